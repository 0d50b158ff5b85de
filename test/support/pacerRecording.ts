import { TrafficRecorder } from '../../server/recording/trafficRecorder';
import { hashUnit } from '../../server/runtime/random';
import { ManualClock, ManualTimers } from './manualTime';

export interface ScriptedTraffic {
  /** Campaign id -> IANA zone (what the server's registry would say). */
  readonly campaigns: Readonly<Record<string, string>>;
  readonly startMs: number;
  readonly requests: number;
  /** Gap between requests, ms. */
  readonly everyMs: number;
  readonly bidMicros: number;
  /** Share of requests the "server" allows (by a hash, so the script is deterministic). */
  readonly allowShare: number;
  readonly sample?: number;
}

/** The market price of request `i`, CPM micros: lognormal-ish around 0.8 x the bid, from a hash. */
export function scriptedPrice(i: number, bidMicros: number): number {
  const u = hashUnit(`price/${i}`);
  return Math.round(bidMicros * 0.8 * Math.exp(0.6 * (u - 0.5) * 2));
}

/**
 * Writes a recording as the server would (the real TrafficRecorder on a manual clock): requests
 * spread over the campaigns in turn, some allowed, the allowed ones won when the bid covers the
 * scripted price (second price: the win costs the price). Returns what it recorded.
 */
export async function writeScriptedRecording(dir: string, t: ScriptedTraffic) {
  const clock = new ManualClock(t.startMs);
  const rec = new TrafficRecorder({
    dir,
    sample: t.sample ?? 1,
    instanceId: 'script',
    clock,
    timers: new ManualTimers(clock),
  });
  rec.useCampaigns((id) => t.campaigns[id] ?? null);
  const ids = Object.keys(t.campaigns);
  let allowed = 0;
  let wins = 0;
  let denied = 0;
  let spendMicros = 0;
  for (let i = 0; i < t.requests; i++) {
    clock.set(t.startMs + i * t.everyMs);
    const id = ids[i % ids.length]!;
    const allow = hashUnit(`allow/${i}`) < t.allowShare;
    rec.recordDecision(id, `r${i}`, t.bidMicros, 0.001 + (i % 7) * 0.0001, {
      allow,
      maxBidCpmMicros: allow ? t.bidMicros : 0,
      reason: allow ? 'within_budget' : 'throttled',
    });
    if (!allow) {
      denied++;
      continue;
    }
    allowed++;
    const price = scriptedPrice(i, t.bidMicros);
    if (price <= t.bidMicros) {
      wins++;
      const spend = Math.ceil(price / 1000);
      spendMicros += spend;
      rec.recordWin(id, `e${i}`, `r${i}`, spend);
    }
    if (i % 500 === 0) await rec.flush();
  }
  await rec.close();
  return { allowed, wins, denied, spendMicros };
}
