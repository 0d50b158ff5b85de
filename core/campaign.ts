import { isValidTimeZone } from './dayWindow';
import { CodedError } from './errors';
import { isMicros } from './money';
import {
  type Targeting,
  type TargetingInput,
  isUnrestricted,
  normaliseTargeting,
  targetingIssues,
} from './targeting/targeting';

export const PACING_MODES = ['EVEN', 'ASAP', 'FRONT_LOADED', 'ADAPTIVE', 'DUAL_GRADIENT'] as const;
export type PacingMode = (typeof PACING_MODES)[number];

export const CAMPAIGN_STATUSES = ['ACTIVE', 'PAUSED', 'ENDED'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const HOURS_PER_DAY = 24;

/** Largest ADAPTIVE hourly weight: the campaign rule, and every schema that takes multipliers. */
export const MAX_HOURLY_MULTIPLIER = 1000;

/** A validated, frozen campaign. Built only through `makeCampaign`. */
export interface Campaign {
  readonly id: string;
  readonly name: string;
  readonly status: CampaignStatus;
  readonly dailyBudgetMicros: number;
  /** Lifetime budget across all days; null when only the daily budget binds. */
  readonly totalBudgetMicros: number | null;
  /** Flight window [start, end); null ends are open. */
  readonly flightStartMs: number | null;
  readonly flightEndMs: number | null;
  /** IANA zone whose local midnight ends the campaign's day. */
  readonly timeZone: string;
  readonly pacingMode: PacingMode;
  /** 24 non-negative weights: each local hour's expected share of traffic or value (ADAPTIVE). */
  readonly hourlyMultipliers: readonly number[] | null;
  /** Highest CPM the pacer lets this campaign bid; null means the bidder's price is kept. */
  readonly maxBidCpmMicros: number | null;
  /** Who the campaign bids on in the bid engine (POST /bid); null targets every request. */
  readonly targeting: Targeting | null;
  /** The creative a winning bid names; null answers with the campaign id. */
  readonly creativeId: string | null;
}

export type CampaignInput = {
  id: string;
  name?: string;
  status?: CampaignStatus;
  dailyBudgetMicros: number;
  totalBudgetMicros?: number | null;
  flightStartMs?: number | null;
  flightEndMs?: number | null;
  timeZone?: string;
  pacingMode?: PacingMode;
  hourlyMultipliers?: readonly number[] | null;
  maxBidCpmMicros?: number | null;
  targeting?: TargetingInput | null;
  creativeId?: string | null;
};

export interface CampaignIssue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

export const CAMPAIGN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function positiveMicros(value: unknown): value is number {
  return typeof value === 'number' && isMicros(value) && value > 0;
}

/** Every problem with a campaign, each with the field path, a stable code and a sentence to act on. */
export function campaignIssues(input: CampaignInput): CampaignIssue[] {
  const issues: CampaignIssue[] = [];
  const add = (path: string, code: string, message: string) => issues.push({ path, code, message });
  if (typeof input.id !== 'string' || !CAMPAIGN_ID_PATTERN.test(input.id)) {
    add(
      'id',
      'INVALID_ID',
      'id must be 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit.',
    );
  }
  if (input.status !== undefined && !CAMPAIGN_STATUSES.includes(input.status)) {
    add('status', 'INVALID_STATUS', `status must be one of ${CAMPAIGN_STATUSES.join(', ')}.`);
  }
  if (!positiveMicros(input.dailyBudgetMicros)) {
    add('dailyBudgetMicros', 'INVALID_BUDGET', 'daily budget must be a positive whole number of micros.');
  }
  if (input.totalBudgetMicros != null) {
    if (!positiveMicros(input.totalBudgetMicros)) {
      add(
        'totalBudgetMicros',
        'INVALID_BUDGET',
        'total budget must be a positive whole number of micros, or absent.',
      );
    }
  }
  const start = input.flightStartMs ?? null;
  const end = input.flightEndMs ?? null;
  if (start !== null && !Number.isSafeInteger(start))
    add('flightStartMs', 'INVALID_TIME', 'flight start must be a time in ms.');
  if (end !== null && !Number.isSafeInteger(end))
    add('flightEndMs', 'INVALID_TIME', 'flight end must be a time in ms.');
  if (start !== null && end !== null && end <= start) {
    add('flightEndMs', 'FLIGHT_ENDS_BEFORE_START', 'flight end must be after flight start.');
  }
  if (input.timeZone !== undefined && !isValidTimeZone(input.timeZone)) {
    add(
      'timeZone',
      'INVALID_TIME_ZONE',
      `"${input.timeZone}" is not an IANA time zone such as "America/New_York".`,
    );
  }
  if (input.pacingMode !== undefined && !PACING_MODES.includes(input.pacingMode)) {
    add('pacingMode', 'INVALID_PACING_MODE', `pacing mode must be one of ${PACING_MODES.join(', ')}.`);
  }
  const m = input.hourlyMultipliers;
  if (m != null) {
    if (!Array.isArray(m) || m.length !== HOURS_PER_DAY) {
      add(
        'hourlyMultipliers',
        'INVALID_MULTIPLIERS',
        'hourly multipliers must be a list of exactly 24 numbers.',
      );
    } else if (
      !m.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= MAX_HOURLY_MULTIPLIER)
    ) {
      add(
        'hourlyMultipliers',
        'INVALID_MULTIPLIERS',
        `each hourly multiplier must be a number from 0 to ${MAX_HOURLY_MULTIPLIER}.`,
      );
    } else if (!m.some((x) => x > 0)) {
      add('hourlyMultipliers', 'INVALID_MULTIPLIERS', 'at least one hourly multiplier must be above 0.');
    }
  }
  if (input.maxBidCpmMicros != null && !positiveMicros(input.maxBidCpmMicros)) {
    add(
      'maxBidCpmMicros',
      'INVALID_MAX_BID',
      'max bid must be a positive whole number of micros, or absent.',
    );
  }
  if (input.targeting != null) {
    for (const i of targetingIssues(input.targeting)) issues.push({ ...i, path: `targeting.${i.path}` });
  }
  if (input.creativeId != null && !CAMPAIGN_ID_PATTERN.test(input.creativeId)) {
    add(
      'creativeId',
      'INVALID_CREATIVE_ID',
      'creative id must be 1-128 letters, digits, ".", "_", ":" or "-".',
    );
  }
  return issues;
}

export class CampaignValidationError extends CodedError {
  constructor(readonly issues: readonly CampaignIssue[]) {
    super('INVALID_CAMPAIGN', issues.map((i) => `${i.path}: ${i.message}`).join(' '));
    this.name = 'CampaignValidationError';
  }
}

/** "Absent means everything": a targeting that restricts nothing is kept as null. */
function targetingOrNull(input: TargetingInput | null | undefined): Targeting | null {
  if (input == null) return null;
  const t = normaliseTargeting(input);
  return isUnrestricted(t) ? null : t;
}

/** Validates once and returns a frozen campaign with defaults filled in; throws on any issue. */
export function makeCampaign(input: CampaignInput): Campaign {
  const issues = campaignIssues(input);
  if (issues.length > 0) throw new CampaignValidationError(issues);
  return Object.freeze({
    id: input.id,
    name: input.name ?? input.id,
    status: input.status ?? 'ACTIVE',
    dailyBudgetMicros: input.dailyBudgetMicros,
    totalBudgetMicros: input.totalBudgetMicros ?? null,
    flightStartMs: input.flightStartMs ?? null,
    flightEndMs: input.flightEndMs ?? null,
    timeZone: input.timeZone ?? 'UTC',
    pacingMode: input.pacingMode ?? 'EVEN',
    hourlyMultipliers: input.hourlyMultipliers ? Object.freeze([...input.hourlyMultipliers]) : null,
    maxBidCpmMicros: input.maxBidCpmMicros ?? null,
    targeting: targetingOrNull(input.targeting),
    creativeId: input.creativeId ?? null,
  });
}
