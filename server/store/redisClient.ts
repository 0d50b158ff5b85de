import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTopology } from './redisTopology';

/** Connection settings shared by every topology. */
export interface RedisConnectionOptions {
  /** A command that gets no answer within this long fails, so the caller can go degraded. */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts. */
  readonly reconnectMaxDelayMs?: number;
}

/** A single-node (or Sentinel-managed) client, or a Cluster client: the store uses what both offer. */
export type RedisClient = Redis | Cluster;

function nodeOptions(o: RedisConnectionOptions): RedisOptions {
  const maxDelayMs = o.reconnectMaxDelayMs ?? 1000;
  return {
    // Fail at once while disconnected instead of queueing: the runtime then journals and goes degraded.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command in flight when the link dropped may or may not have run; resending it later would
    // hand out a lease nobody knows about. Spend is safe either way (dedup), leases are not.
    autoResendUnfulfilledCommands: false,
    commandTimeout: o.commandTimeoutMs ?? 500,
    connectTimeout: o.connectTimeoutMs ?? 1000,
    retryStrategy: (times) => Math.min(50 * times, maxDelayMs),
    lazyConnect: false,
  };
}

function clusterOptions(o: RedisConnectionOptions): ClusterOptions {
  const maxDelayMs = o.reconnectMaxDelayMs ?? 1000;
  return {
    enableOfflineQueue: false,
    // Reads go to primaries: a replica may lag behind a lease or a spend the primary just took.
    scaleReads: 'master',
    redisOptions: nodeOptions(o),
    clusterRetryStrategy: (times) => Math.min(50 * times, maxDelayMs),
    // After a primary dies, its slots answer MOVED or fail until the replica is promoted: refresh
    // the slot map soon and often, so the store follows the failover by itself.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    slotsRefreshTimeout: o.connectTimeoutMs ?? 1000,
    slotsRefreshInterval: 1000,
    maxRedirections: 16,
  };
}

export function createRedisClient(topology: RedisTopology, o: RedisConnectionOptions = {}): RedisClient {
  const client = connect(topology, o);
  // Connection errors surface through command rejections; without a listener ioredis prints
  // "Unhandled error event" with a stack for every reconnect attempt of a Redis that is down.
  client.on('error', () => {});
  client.on('node error', () => {});
  return client;
}

function connect(topology: RedisTopology, o: RedisConnectionOptions): RedisClient {
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, nodeOptions(o));
    case 'sentinel':
      return new Redis({
        ...nodeOptions(o),
        sentinels: topology.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: topology.name,
        // Listens for +switch-master, so a primary that is demoted without dying is left at once.
        failoverDetector: true,
        sentinelRetryStrategy: (times) => Math.min(50 * times, o.reconnectMaxDelayMs ?? 1000),
      });
    case 'cluster':
      return new Cluster(
        topology.nodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOptions(o),
      );
  }
}

/** The node group serving a key's slot: commands for one group can share a pipeline. */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
