import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TRAFFIC_FILE_SUFFIX } from '../../core/index';
import type { Scenario } from '../scenario';
import type { History } from './history';
import { type CampaignFit, type ServerBasis, fitServerHistory, totalsOf } from './serverFit';
import { type CampaignHistory, historyFromRecording } from './serverHistory';
import { historyFromDatabase, redact } from './serverHistoryDb';

/** `--from` is the server's own history: a DATABASE_URL, or a recording (RECORD_DIR or one of its files). */
export function isServerHistory(from: string): boolean {
  if (/^postgres(ql)?:\/\//.test(from)) return true;
  if (from.endsWith(TRAFFIC_FILE_SUFFIX)) return true;
  return (
    existsSync(from) &&
    statSync(from).isDirectory() &&
    readdirSync(from).some((f) => f.endsWith(TRAFFIC_FILE_SUFFIX))
  );
}

export interface ServerHistoryFit {
  readonly history: History;
  readonly campaigns: readonly CampaignHistory[];
  readonly fits: readonly CampaignFit[];
}

/**
 * Reads the server's history and fits every campaign on it; `history` is all campaigns together
 * (each in its own clock hours), for the scenario-wide multipliers file and the judged runs.
 */
export async function fitFromServer(
  from: string,
  scenario: Scenario,
  basis: ServerBasis,
): Promise<ServerHistoryFit> {
  const db = /^postgres(ql)?:\/\//.test(from);
  const campaigns = db ? await historyFromDatabase(from) : historyFromRecording(from);
  const own =
    !db &&
    scenario.stream.kind === 'pacer-log' &&
    resolve(scenario.sourcePath ? dirname(scenario.sourcePath) : '.', scenario.stream.path) === resolve(from);
  const days = new Set(campaigns.flatMap((c) => [...c.days.keys()])).size;
  return {
    campaigns,
    fits: fitServerHistory(campaigns, basis),
    history: {
      totals: totalsOf(campaigns),
      source: `${db ? `records database ${redact(from)} (campaign_hours)` : `server recording ${from}`}: ${campaigns.length} campaign(s), ${days} local date(s), clock hours of each campaign's time zone`,
      seed: null,
      bases: ['requests', 'cost'],
      inSample: own,
    },
  };
}
