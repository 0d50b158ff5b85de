import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import {
  CAMPAIGN_ID_PATTERN,
  CodedError,
  type DecisionRow,
  TRAFFIC_FILE_SUFFIX,
  TRAFFIC_RECORD_VERSION,
  type WinRow,
} from '../../core/index';
import { schemaChecker } from '../schemaCheck';

/** A pacer recording (RECORD_DIR of the server) that cannot be read: names the file and line. */
export class PacerLogError extends CodedError {
  constructor(where: string, message: string) {
    super('SIM_ERR_BAD_RECORDING', `${where}: ${message}`);
    this.name = 'PacerLogError';
  }
}

const Id = Type.String({ minLength: 1, maxLength: 256 });
/** The core's campaign id rule: ids name files the tuner writes, so `../x` must never pass. */
const CampaignId = Type.String({ pattern: CAMPAIGN_ID_PATTERN.source });
const Time = Type.Number({ minimum: 0, maximum: 8.64e15 });
const Weight = Type.Number({ exclusiveMinimum: 0, maximum: 1e9 });
const MicrosField = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** One schema for a line of a recording (core/trafficRecord.ts): `type` picks the shape. */
const RowSchema = Type.Union([
  Type.Object({
    type: Type.Literal('header'),
    version: Type.Integer(),
    instanceId: Type.String(),
    sample: Type.Number({ minimum: 0, maximum: 1 }),
  }),
  Type.Object({
    type: Type.Literal('campaign'),
    campaignId: CampaignId,
    timeZone: Type.String({ minLength: 1 }),
  }),
  Type.Object({
    type: Type.Literal('decision'),
    timeMs: Time,
    campaignId: CampaignId,
    requestId: Type.Union([Id, Type.Null()]),
    bidMicros: MicrosField,
    value: Type.Number(),
    allow: Type.Boolean(),
    maxBidMicros: MicrosField,
    reason: Type.String(),
    weight: Weight,
  }),
  Type.Object({
    type: Type.Literal('win'),
    timeMs: Time,
    campaignId: CampaignId,
    eventId: Id,
    requestId: Type.Union([Id, Type.Null()]),
    spendMicros: MicrosField,
    weight: Weight,
  }),
]);
const checkRow = schemaChecker(RowSchema);

/** Every row of a recording, decisions and wins apart, each in time order (stable). */
export interface PacerLogRows {
  readonly decisions: readonly DecisionRow[];
  readonly wins: readonly WinRow[];
  /** Time zone of each campaign, as the files announce them (a campaign never announced: absent). */
  readonly timeZones: ReadonlyMap<string, string>;
  readonly files: readonly string[];
}

/**
 * The completed files of a recording: a directory's `*.ndjson.gz` (a `.tmp` file is still being
 * written, or was cut by a crash, and is left out), or one file named directly.
 */
export function pacerLogFiles(path: string): string[] {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch (err) {
    throw new PacerLogError(path, `cannot read the recording: ${(err as Error).message}`);
  }
  if (!dir) return [path];
  const files = readdirSync(path)
    .filter((f) => f.endsWith(TRAFFIC_FILE_SUFFIX))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0)
    throw new PacerLogError(path, `no completed recording files (*${TRAFFIC_FILE_SUFFIX}) in the directory`);
  return files;
}

function readFile(file: string, out: { decisions: DecisionRow[]; wins: WinRow[]; tz: Map<string, string> }) {
  let text: string;
  try {
    text = gunzipSync(readFileSync(file)).toString('utf8');
  } catch (err) {
    throw new PacerLogError(file, `not a readable gzip file: ${(err as Error).message}`);
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new PacerLogError(where, 'not a JSON line');
    }
    const problems = checkRow(row);
    if (problems.length > 0) throw new PacerLogError(where, `not a recording row (${problems[0]})`);
    const r = row as
      | DecisionRow
      | WinRow
      | { type: 'header'; version: number }
      | { type: 'campaign'; campaignId: string; timeZone: string };
    if (r.type === 'header') {
      if (r.version !== TRAFFIC_RECORD_VERSION)
        throw new PacerLogError(
          where,
          `recording format version ${r.version}; this simulator reads ${TRAFFIC_RECORD_VERSION}`,
        );
    } else if (r.type === 'campaign') out.tz.set(r.campaignId, r.timeZone);
    else if (r.type === 'decision') out.decisions.push(r);
    else out.wins.push(r);
  }
}

/** Reads and checks every row of a recording (all instances' files merged by time). */
export function readPacerLog(path: string): PacerLogRows {
  const files = pacerLogFiles(path);
  const out = { decisions: [] as DecisionRow[], wins: [] as WinRow[], tz: new Map<string, string>() };
  for (const f of files) readFile(f, out);
  // Stable: rows of one instance keep their order; instances interleave by time.
  out.decisions.sort((a, b) => a.timeMs - b.timeMs);
  out.wins.sort((a, b) => a.timeMs - b.timeMs);
  return { decisions: out.decisions, wins: out.wins, timeZones: out.tz, files };
}
