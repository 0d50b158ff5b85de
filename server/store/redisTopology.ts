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

/** The topology variables, validated one by one against the config schema (server/configSchema.ts). */
export interface RedisTopologyEnv {
  readonly REDIS_URL?: string;
  readonly REDIS_SENTINELS?: string;
  readonly REDIS_SENTINEL_NAME?: string;
  readonly REDIS_CLUSTER_NODES?: string;
  readonly REDIS_WAIT_REPLICAS?: number;
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

/**
 * The configured topology, or null for the embedded store: what spans the variables (one
 * topology, a Sentinel name with its Sentinels). Problems are appended, not thrown.
 */
export function readRedisTopology(v: RedisTopologyEnv, problems: string[]): RedisTopology | null {
  const url = v.REDIS_URL;
  const sentinels = v.REDIS_SENTINELS;
  const sentinelName = v.REDIS_SENTINEL_NAME;
  const clusterNodes = v.REDIS_CLUSTER_NODES;
  const waitReplicas = v.REDIS_WAIT_REPLICAS;
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
  if (url !== undefined) return { kind: 'single', url, waitReplicas: waitReplicas ?? 0 };
  if (sentinels !== undefined) {
    if (sentinelName === undefined) {
      problems.push(
        'REDIS_SENTINELS needs REDIS_SENTINEL_NAME: the name the Sentinels monitor the primary under.',
      );
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
  if (waitReplicas !== undefined) problems.push('REDIS_WAIT_REPLICAS is set but no Redis is configured.');
  return null;
}
