import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  SCENARIO_SCHEMA_PATH,
  ScenarioError,
  loadScenario,
  parseScenario,
  scenarioFrom,
} from '../../sim/scenario';
import { scenarioSchemaText } from '../../sim/scenarioSchema';
import { SCENARIOS } from './fixtures';

function problemsOf(yaml: string): string[] {
  try {
    parseScenario(yaml, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return [...(err as ScenarioError).problems];
  }
  throw new Error('expected the scenario to be rejected');
}

const VALID = readFileSync(resolve(SCENARIOS, 'friday.yaml'), 'utf8');

describe('scenario schema', () => {
  it('is a valid JSON Schema under ajv strict mode', () => {
    const ajv = new Ajv({ strict: true, allowUnionTypes: true });
    expect(() => ajv.compile(JSON.parse(readFileSync(SCENARIO_SCHEMA_PATH, 'utf8')))).not.toThrow();
  });

  it('the shipped JSON Schema is the one generated from the TypeBox source (npm run schema)', () => {
    expect(readFileSync(SCENARIO_SCHEMA_PATH, 'utf8')).toBe(scenarioSchemaText());
  });

  it('takes its defaults from the schema: the file documents what the simulator fills in', () => {
    const doc = JSON.parse(readFileSync(SCENARIO_SCHEMA_PATH, 'utf8'));
    expect(doc.properties.winNotices.properties.medianDelayMs.default).toBe(500);
    const raw = parse(VALID);
    delete raw.winNotices;
    expect(parseScenario(JSON.stringify(raw), 'x').winNotices.medianDelayMs).toBe(500);
    // The caller's object is not filled in behind its back.
    const input = parse(VALID);
    delete input.winNotices;
    scenarioFrom(input, 'x');
    expect(input.winNotices).toBeUndefined();
  });

  it('applies the core campaign rule to listed campaigns, naming the field', () => {
    const raw = parse(VALID);
    raw.campaigns = {
      list: [{ id: 'c1', dailyBudgetMicros: 2e15, bidCpmMicros: 900000, participation: 0.5 }],
    };
    expect(problemsOf(JSON.stringify(raw))).toContain(
      '/campaigns/list/0/dailyBudgetMicros: must be <= 1000000000000000',
    );
  });

  it('accepts every shipped scenario and freezes it', () => {
    for (const name of ['friday.yaml', 'redis-outage.yaml', 'ipinyou.yaml']) {
      const s = loadScenario(resolve(SCENARIOS, name));
      expect(Object.isFrozen(s)).toBe(true);
      expect(Object.isFrozen(s.stream)).toBe(true);
      expect(s.algorithms.length).toBeGreaterThan(0);
    }
  });

  it('names the path of a bad field', () => {
    const bad = VALID.replace('meanQps: 100', 'meanQps: -3');
    expect(problemsOf(bad)).toContain('/stream/meanQps: must be > 0');
  });

  it('names an unknown field and where it is', () => {
    const bad = VALID.replace('  count: 1\n', '  count: 1\n  cuont: 2\n');
    expect(problemsOf(bad)).toContain('/instances: unknown field "cuont"');
  });

  it('lists the allowed algorithms when one is wrong', () => {
    const bad = VALID.replace('algorithms: [EVEN,', 'algorithms: [EVEN_ISH,');
    expect(problemsOf(bad).join('\n')).toMatch(
      /^\/algorithms\/0: .*EVEN, ASAP, FRONT_LOADED, ADAPTIVE, DUAL_GRADIENT/m,
    );
  });

  it('checks what the schema cannot: a surge that ends before it starts', () => {
    const bad = VALID.replace('{ from: "18:00", to: "22:00"', '{ from: "22:00", to: "18:00"');
    expect(problemsOf(bad)).toContain('/stream/surges/0/to: must be after "from"');
  });

  it('rejects YAML that does not parse, and a missing file, as bad input', () => {
    expect(problemsOf('name: [unclosed')[0]).toMatch(/^not valid YAML/);
    expect(() => loadScenario('/nonexistent/x.yaml')).toThrow(ScenarioError);
  });

  it('fills defaults for what a scenario leaves out', () => {
    const raw = parse(VALID);
    delete raw.winNotices;
    delete raw.market;
    const s = parseScenario(JSON.stringify(raw), 'x');
    expect(s.market.pricing).toBe('second');
    expect(s.winNotices.lateShare).toBe(0);
    expect(s.days).toBe(1);
  });
});
