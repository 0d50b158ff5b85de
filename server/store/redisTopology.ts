/**
 * Which Redis the server talks to, read from the environment: one node (REDIS_URL), a
 * Sentinel-managed primary (REDIS_SENTINELS + REDIS_SENTINEL_NAME) or a Cluster
 * (REDIS_CLUSTER_NODES). Exactly one may be set; none means the embedded store.
 */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type RedisTopology =
  | { readonly kind: 'single'; readonly url: string; readonly waitReplicas: number }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly name: string;
      readonly waitReplicas: number;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[]; readonly waitReplicas: number };

export const REDIS_TOPOLOGY_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  REDIS_SENTINELS: 'host:port,... of the Redis Sentinels watching the primary (with REDIS_SENTINEL_NAME)',
  REDIS_SENTINEL_NAME: 'name of the primary the Sentinels watch (sentinel monitor <name> ...)',
  REDIS_CLUSTER_NODES: 'host:port,... of some Redis Cluster nodes (the rest are discovered)',
  REDIS_WAIT_REPLICAS:
    'replicas that must hold spend and lease writes before they count (WAIT); default 1 with Sentinel or Cluster, 0 with REDIS_URL',
});

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function hostPorts(name: string, raw: string, problems: string[]): HostPort[] {
  const out: HostPort[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : Number.NaN;
    if (!m || !(port >= 1 && port <= 65535)) {
      problems.push(`${name}: "${part}" must be host:port with a port from 1 to 65535, e.g. 10.0.0.5:26379.`);
      continue;
    }
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/** The configured topology, or null for the embedded store; problems are appended, not thrown. */
export function readRedisTopology(env: Env, problems: string[]): RedisTopology | null {
  const url = value(env, 'REDIS_URL');
  const sentinels = value(env, 'REDIS_SENTINELS');
  const sentinelName = value(env, 'REDIS_SENTINEL_NAME');
  const clusterNodes = value(env, 'REDIS_CLUSTER_NODES');
  const set = [
    url && 'REDIS_URL',
    sentinels && 'REDIS_SENTINELS',
    clusterNodes && 'REDIS_CLUSTER_NODES',
  ].filter(Boolean);
  if (set.length > 1) {
    problems.push(`${set.join(' and ')} are both set: choose one Redis topology.`);
    return null;
  }
  if (sentinelName !== undefined && sentinels === undefined) {
    problems.push('REDIS_SENTINEL_NAME is set without REDIS_SENTINELS: list the Sentinels as host:port,...');
  }
  const waitRaw = value(env, 'REDIS_WAIT_REPLICAS');
  let waitReplicas: number | undefined;
  if (waitRaw !== undefined) {
    waitReplicas = Number(waitRaw);
    if (!/^\d+$/.test(waitRaw) || waitReplicas > 16) {
      problems.push(`REDIS_WAIT_REPLICAS="${waitRaw}" must be a whole number from 0 to 16.`);
      waitReplicas = 0;
    }
  }
  if (url !== undefined) {
    if (!/^rediss?:\/\/[^\s]+$/.test(url)) {
      problems.push(`REDIS_URL="${url}" must look like redis://host:6379/0 or rediss://...`);
    }
    return { kind: 'single', url, waitReplicas: waitReplicas ?? 0 };
  }
  if (sentinels !== undefined) {
    if (sentinelName === undefined) {
      problems.push(
        'REDIS_SENTINELS needs REDIS_SENTINEL_NAME: the name the Sentinels monitor the primary under.',
      );
    } else if (!/^[A-Za-z0-9._-]{1,64}$/.test(sentinelName)) {
      problems.push(`REDIS_SENTINEL_NAME="${sentinelName}" must be 1-64 letters, digits, ".", "_" or "-".`);
    }
    return {
      kind: 'sentinel',
      sentinels: hostPorts('REDIS_SENTINELS', sentinels, problems),
      name: sentinelName ?? '',
      waitReplicas: waitReplicas ?? 1,
    };
  }
  if (clusterNodes !== undefined) {
    return {
      kind: 'cluster',
      nodes: hostPorts('REDIS_CLUSTER_NODES', clusterNodes, problems),
      waitReplicas: waitReplicas ?? 1,
    };
  }
  if (waitRaw !== undefined) problems.push('REDIS_WAIT_REPLICAS is set but no Redis is configured.');
  return null;
}
