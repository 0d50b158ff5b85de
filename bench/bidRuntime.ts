import { makeCampaign } from '../core/campaign';
import { MemoryJournal } from '../core/journal';
import { MemoryStore } from '../core/memoryStore';
import type { ServerConfig } from '../server/config';
import { type Runtime, type RuntimeLogger, createRuntime } from '../server/runtime/runtime';
import { type Clock, intervalTimers } from '../server/runtime/time';
import { EmbeddedStore } from '../server/store/embeddedStore';
import { benchCampaignTargeting } from './bidWorkload';

/** A store holding `count` targeted campaigns with max bids (bench/bidWorkload.ts), as a restart finds them. */
export async function benchStore(count: number): Promise<MemoryStore> {
  const store = new MemoryStore();
  for (let i = 0; i < count; i++) {
    await store.putCampaign(
      makeCampaign({
        id: `camp-${i}`,
        dailyBudgetMicros: 1_000_000_000_000,
        maxBidCpmMicros: 500_000 + ((i * 7919) % 4_500_000),
        targeting: benchCampaignTargeting(i),
      }),
    );
  }
  return store;
}

/** The runtime server/main.ts builds without REDIS_URL, over `store`. */
export function benchRuntime(
  store: MemoryStore,
  config: ServerConfig,
  clock: Clock,
  log: RuntimeLogger,
): Runtime {
  return createRuntime({
    store: new EmbeddedStore(store),
    journal: new MemoryJournal(),
    clock,
    timers: intervalTimers,
    instanceId: config.instanceId,
    config: config.pacer,
    log,
    storeKind: 'embedded',
  });
}
