import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { ConfigError } from '../../server/errors';

const defaults = { instanceId: 'h-1' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, defaults);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('Redis topology from the environment', () => {
  it('none set: the embedded store', () => {
    expect(loadConfig({}, defaults)).toMatchObject({ redis: null, redisUrl: null, workers: 1 });
  });

  it('REDIS_URL: one node, no replica to wait for', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.1:6379/0' }, defaults)).toMatchObject({
      redis: { kind: 'single', url: 'redis://10.0.0.1:6379/0', waitReplicas: 0 },
      redisUrl: 'redis://10.0.0.1:6379/0',
    });
  });

  it('REDIS_SENTINELS + REDIS_SENTINEL_NAME: Sentinel, writes wait for one replica', () => {
    const c = loadConfig(
      { REDIS_SENTINELS: 'a:26379, 10.0.0.2:26380', REDIS_SENTINEL_NAME: 'pacer' },
      defaults,
    );
    expect(c.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'a', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      name: 'pacer',
      waitReplicas: 1,
    });
    expect(c.redisUrl).toBeNull();
  });

  it('REDIS_CLUSTER_NODES: Cluster; REDIS_WAIT_REPLICAS overrides the replicas waited for', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', REDIS_WAIT_REPLICAS: '0' }, defaults);
    expect(c.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      waitReplicas: 0,
    });
  });

  it('refuses a bad or ambiguous topology with a sentence per problem', () => {
    expect(problems({ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'b:2' })).toEqual([
      'REDIS_URL and REDIS_CLUSTER_NODES are both set: choose one Redis topology.',
    ]);
    expect(problems({ REDIS_SENTINELS: 'a:26379' })[0]).toMatch(/REDIS_SENTINELS needs REDIS_SENTINEL_NAME/);
    expect(problems({ REDIS_SENTINEL_NAME: 'm' })[0]).toMatch(
      /REDIS_SENTINEL_NAME is set without REDIS_SENTINELS/,
    );
    expect(problems({ REDIS_CLUSTER_NODES: 'a:7000,b,c:99999' })).toEqual([
      'REDIS_CLUSTER_NODES: "b" must be host:port with a port from 1 to 65535, e.g. 10.0.0.5:26379.',
      'REDIS_CLUSTER_NODES: "c:99999" must be host:port with a port from 1 to 65535, e.g. 10.0.0.5:26379.',
    ]);
    expect(problems({ REDIS_URL: 'http://x' })[0]).toMatch(/REDIS_URL="http:\/\/x" must look like redis:/);
    expect(problems({ REDIS_WAIT_REPLICAS: '1' })[0]).toMatch(/no Redis is configured/);
    expect(problems({ REDIS_URL: 'redis://a:1', REDIS_WAIT_REPLICAS: 'two' })[0]).toMatch(
      /REDIS_WAIT_REPLICAS="two"/,
    );
  });
});

describe('WORKERS', () => {
  it('takes a count or auto (one per core)', () => {
    expect(loadConfig({ WORKERS: '3' }, defaults).workers).toBe(3);
    expect(loadConfig({ WORKERS: 'auto' }, defaults).workers).toBe(availableParallelism());
    expect(problems({ WORKERS: '0' })[0]).toMatch(
      /WORKERS="0" must be "auto" or a whole number from 1 to 256/,
    );
    expect(problems({ WORKERS: 'many' })[0]).toMatch(/WORKERS="many"/);
  });
});

describe('the server process', () => {
  it('exits 78 on a bad topology, naming the variables it reads', () => {
    const res = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../../server/main.ts')],
      {
        env: { PATH: process.env.PATH ?? '', REDIS_SENTINELS: '127.0.0.1:1', PORT: '0' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(res.status).toBe(78);
    expect(res.stderr).toMatch(/REDIS_SENTINELS needs REDIS_SENTINEL_NAME/);
    expect(res.stderr).toMatch(/REDIS_CLUSTER_NODES\s+host:port,\.\.\. of some Redis Cluster nodes/);
    expect(res.stderr).toMatch(/WORKERS\s+server processes on this host/);
  });
});
