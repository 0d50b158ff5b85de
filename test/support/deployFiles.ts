import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The operations files under deploy/, read as the tools that consume them would. */
export const ROOT = join(import.meta.dirname, '..', '..');
export const RULES_FILE = join(ROOT, 'deploy', 'prometheus', 'pacer.rules.yml');
export const RULE_TESTS_DIR = join(ROOT, 'deploy', 'prometheus', 'tests');
export const DASHBOARD_FILE = join(ROOT, 'deploy', 'grafana', 'pacer.json');

export interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly annotations?: Record<string, string>;
}

export function loadRules(): Rule[] {
  const doc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

export function ruleTestFiles(): string[] {
  return readdirSync(RULE_TESTS_DIR)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(RULE_TESTS_DIR, f));
}

/** Alert names that a promtool unit test expects to fire (not merely stay quiet). */
export function alertsTestedFiring(): Set<string> {
  const names = new Set<string>();
  for (const file of ruleTestFiles()) {
    const doc = parse(readFileSync(file, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    for (const t of doc.tests) {
      for (const a of t.alert_rule_test ?? []) if (a.exp_alerts.length > 0) names.add(a.alertname);
    }
  }
  return names;
}

interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: { readonly expr: string; readonly refId: string }[];
  readonly panels?: Panel[];
}

/** Every query of the Grafana dashboard, with the panel it belongs to. */
export function dashboardQueries(): { panel: string; expr: string }[] {
  const doc = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] };
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(doc.panels);
  return out;
}

/** Names of the series an expression reads: metric names and recording-rule names. */
export function seriesNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(
    /\b(up|pacer_[a-z0-9_]+|nodejs_[a-z0-9_]+|process_[a-z0-9_]+|pacer:[a-z0-9_:]+)\b/g,
  )) {
    names.add(m[1]!);
  }
  return [...names];
}
