import { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../core/store';

/**
 * The generation marker in the hot store: written once when a Redis dataset starts (first start
 * or after a repair). A Redis that answers without it has lost its data. Also the lock that lets
 * one instance of the fleet run the repair.
 */
export interface GenerationMarker {
  /** Rejects with StoreUnavailableError when the store cannot be reached. */
  read(): Promise<string | null>;
  /** Sets the marker if absent; returns the marker now in place. */
  writeIfAbsent(generation: string): Promise<string>;
  write(generation: string): Promise<void>;
  /** True when this owner holds the repair lock now (for ttlMs). */
  claimRepair(owner: string, ttlMs: number): Promise<boolean>;
  /** Holds the lock for another ttlMs if this owner still holds it; true when it did. */
  extendRepair(owner: string, ttlMs: number): Promise<boolean>;
  /** Writes the marker if this owner holds the repair lock; true when it did. */
  writeHoldingRepair(generation: string, owner: string): Promise<boolean>;
  releaseRepair(owner: string): Promise<void>;
  close(): Promise<void>;
}

/** The embedded store lives in this process: its marker dies with it, as the data does. */
export class MemoryMarker implements GenerationMarker {
  private generation: string | null = null;
  async read(): Promise<string | null> {
    return this.generation;
  }
  async writeIfAbsent(generation: string): Promise<string> {
    this.generation ??= generation;
    return this.generation;
  }
  async write(generation: string): Promise<void> {
    this.generation = generation;
  }
  async claimRepair(): Promise<boolean> {
    return true;
  }
  async extendRepair(): Promise<boolean> {
    return true;
  }
  async writeHoldingRepair(generation: string): Promise<boolean> {
    this.generation = generation;
    return true;
  }
  async releaseRepair(): Promise<void> {}
  async close(): Promise<void> {}
}

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const WRITE_HOLDING_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2]) return 1 end return 0`;
const EXTEND_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/** The marker as a plain key next to the pacer's keys, on a connection of its own. */
export class RedisMarker implements GenerationMarker {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly lockKey: string;

  constructor(url: string, prefix = 'pacer:') {
    this.key = `${prefix}generation`;
    this.lockKey = `${prefix}repair-lock`;
    this.redis = new Redis(url, {
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      commandTimeout: 1_000,
      connectTimeout: 1_000,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    this.redis.on('error', () => {});
  }

  private async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new StoreUnavailableError(`redis ${what} failed: ${detail}`, { cause: err });
    }
  }

  read(): Promise<string | null> {
    return this.run('generation read', () => this.redis.get(this.key));
  }

  writeIfAbsent(generation: string): Promise<string> {
    return this.run('generation write', async () => {
      await this.redis.set(this.key, generation, 'NX');
      return (await this.redis.get(this.key)) ?? generation;
    });
  }

  write(generation: string): Promise<void> {
    return this.run('generation write', async () => {
      await this.redis.set(this.key, generation);
    });
  }

  claimRepair(owner: string, ttlMs: number): Promise<boolean> {
    return this.run(
      'repair lock',
      async () => (await this.redis.set(this.lockKey, owner, 'PX', ttlMs, 'NX')) === 'OK',
    );
  }

  writeHoldingRepair(generation: string, owner: string): Promise<boolean> {
    // One plain Redis (the records run beside no Sentinel or Cluster), so two keys in one script.
    return this.run(
      'generation write',
      async () =>
        (await this.redis.eval(WRITE_HOLDING_LUA, 2, this.lockKey, this.key, owner, generation)) === 1,
    );
  }

  extendRepair(owner: string, ttlMs: number): Promise<boolean> {
    return this.run(
      'repair lock',
      async () => (await this.redis.eval(EXTEND_LUA, 1, this.lockKey, owner, ttlMs)) === 1,
    );
  }

  releaseRepair(owner: string): Promise<void> {
    return this.run('repair unlock', async () => {
      await this.redis.eval(RELEASE_LUA, 1, this.lockKey, owner);
    });
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
