/**
 * The rows of a traffic recording: the contract between the server that writes them
 * (server/recording/) and the simulator and tuner that read them (sim/sources/pacerLog.ts,
 * sim/tune/serverHistory.ts). One JSON object per line, in gzip-compressed hourly files.
 * Money is integer micros; `weight` is how many requests (or notices) the row stands for:
 * 1 / RECORD_SAMPLE, so sums of weights estimate the unsampled totals.
 */

/** Format version written in every file's first row; a reader refuses versions it does not know. */
export const TRAFFIC_RECORD_VERSION = 1;

/** The first row of every file, and the first row about a campaign in it: its time zone. */
export interface FileHeaderRow {
  readonly type: 'header';
  readonly version: number;
  readonly instanceId: string;
  /** RECORD_SAMPLE the file was written with. */
  readonly sample: number;
}

export interface CampaignRow {
  readonly type: 'campaign';
  readonly campaignId: string;
  readonly timeZone: string;
}

/** One decision request as the server answered it. */
export interface DecisionRow {
  readonly type: 'decision';
  readonly timeMs: number;
  readonly campaignId: string;
  /** The request id, or null when the caller sent none. */
  readonly requestId: string | null;
  /** The bid CPM the caller asked about, micros. */
  readonly bidMicros: number;
  /** The value signal (value or predicted_ctr), or -1 when the request carried none. */
  readonly value: number;
  readonly allow: boolean;
  readonly maxBidMicros: number;
  readonly reason: string;
  readonly weight: number;
}

/** One counted win notice (duplicates are not recorded: they changed nothing). */
export interface WinRow {
  readonly type: 'win';
  readonly timeMs: number;
  readonly campaignId: string;
  readonly eventId: string;
  readonly requestId: string | null;
  /** What the impression cost, micros (not a CPM). */
  readonly spendMicros: number;
  readonly weight: number;
}

export type TrafficRow = FileHeaderRow | CampaignRow | DecisionRow | WinRow;

/** File names: `traffic-<instance>-<YYYY-MM-DDTHH>Z.ndjson.gz`; a `.tmp` suffix while written. */
export const TRAFFIC_FILE_SUFFIX = '.ndjson.gz';
export const TRAFFIC_TEMP_SUFFIX = '.tmp';

/** The UTC hour a file holds, as its name says it: YYYY-MM-DDTHH. */
export function trafficHourKey(atMs: number): string {
  return new Date(atMs - (atMs % 3_600_000)).toISOString().slice(0, 13);
}
