import {
  type Campaign,
  type CampaignInput,
  CampaignValidationError,
  makeCampaign,
} from '../../core/campaign';
import { isValidTimeZone } from '../../core/dayWindow';
import { centsToMicros, microsToCents } from '../../core/money';
import { InvalidAmountError, InvalidCampaignError } from '../errors';
import type { CampaignCreateJson, CampaignJson } from './schemas';
import { targetingFromJson, targetingToJson } from './targetingJson';
import { formatInstant, parseFlightDate } from './wallTime';

/** Core field names back to the JSON names a client sent, so a message points at their field. */
const JSON_FIELD: Readonly<Record<string, string>> = {
  id: 'id',
  status: 'status',
  dailyBudgetMicros: 'daily_budget_cents',
  totalBudgetMicros: 'total_budget_cents',
  flightStartMs: 'start_date',
  flightEndMs: 'end_date',
  timeZone: 'time_zone',
  pacingMode: 'pacing_mode',
  hourlyMultipliers: 'hourly_multipliers',
  maxBidCpmMicros: 'max_bid_cents',
  creativeId: 'creative_id',
  'targeting.deviceTypes': 'targeting.device_types',
  'targeting.frequencyCapPerDay': 'targeting.frequency_cap_per_day',
};

/** Cents from a request to micros, or a 400 naming the field. */
export function centsField(field: string, cents: number): number {
  try {
    return centsToMicros(cents);
  } catch {
    throw new InvalidAmountError(field, cents);
  }
}

function optionalCents(field: string, cents: number | null | undefined): number | null {
  return cents === undefined || cents === null ? null : centsField(field, cents);
}

function flightDate(field: string, text: string | null | undefined, timeZone: string): number | null {
  if (text === undefined || text === null) return null;
  const ms = parseFlightDate(text, timeZone);
  if (ms === null) {
    throw new InvalidCampaignError(`${field} "${text}" is not a real calendar date or time.`, [
      { path: field, code: 'INVALID_TIME', message: 'not a real calendar date or time' },
    ]);
  }
  return ms;
}

/**
 * A campaign from its JSON body (already schema-valid). Checks what a schema cannot (time zone,
 * flight order, fractions of a micro) through core's `makeCampaign`, so the rules live in one place.
 */
export function campaignFromJson(json: CampaignCreateJson): Campaign {
  const timeZone = json.time_zone ?? 'UTC';
  if (!isValidTimeZone(timeZone)) {
    throw new InvalidCampaignError(
      `time_zone "${timeZone}" is not an IANA time zone such as "America/New_York".`,
      [{ path: 'time_zone', code: 'INVALID_TIME_ZONE', message: 'unknown time zone' }],
    );
  }
  const input: CampaignInput = {
    id: json.id,
    dailyBudgetMicros: centsField('daily_budget_cents', json.daily_budget_cents),
    totalBudgetMicros: optionalCents('total_budget_cents', json.total_budget_cents),
    flightStartMs: flightDate('start_date', json.start_date, timeZone),
    flightEndMs: flightDate('end_date', json.end_date, timeZone),
    timeZone,
    maxBidCpmMicros: optionalCents('max_bid_cents', json.max_bid_cents),
    hourlyMultipliers: json.hourly_multipliers ?? null,
  };
  if (json.targeting != null) input.targeting = targetingFromJson(json.targeting);
  if (json.creative_id != null) input.creativeId = json.creative_id;
  if (json.name !== undefined) input.name = json.name;
  if (json.status !== undefined) input.status = json.status;
  if (json.pacing_mode !== undefined) input.pacingMode = json.pacing_mode;
  return validCampaign(input);
}

/** core's `makeCampaign`, with its issues renamed to the JSON fields the client knows. */
export function validCampaign(input: CampaignInput): Campaign {
  try {
    return makeCampaign(input);
  } catch (err) {
    if (!(err instanceof CampaignValidationError)) throw err;
    const issues = err.issues.map((i) => ({ ...i, path: JSON_FIELD[i.path] ?? i.path }));
    throw new InvalidCampaignError(issues.map((i) => `${i.path}: ${i.message}`).join(' '), issues);
  }
}

export function campaignToJson(c: Campaign): CampaignJson {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    daily_budget_cents: microsToCents(c.dailyBudgetMicros),
    total_budget_cents: c.totalBudgetMicros === null ? null : microsToCents(c.totalBudgetMicros),
    start_date: c.flightStartMs === null ? null : formatInstant(c.flightStartMs),
    end_date: c.flightEndMs === null ? null : formatInstant(c.flightEndMs),
    time_zone: c.timeZone,
    pacing_mode: c.pacingMode,
    max_bid_cents: c.maxBidCpmMicros === null ? null : microsToCents(c.maxBidCpmMicros),
    hourly_multipliers: c.hourlyMultipliers === null ? null : [...c.hourlyMultipliers],
    targeting: c.targeting === null ? null : targetingToJson(c.targeting),
    creative_id: c.creativeId,
  };
}
