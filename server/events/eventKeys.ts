import calculateSlot from 'cluster-key-slot';

/**
 * Redis key layout of the event log. The log is split into STREAM_PARTITIONS streams, each under
 * its own hash tag `{ev:<p>}`, and a campaign always maps to the same partition (by the hash slot
 * of its id): its events stay in order, one Lua script can check an event id and append it in a
 * single slot, and on a Redis Cluster the partitions spread over the nodes.
 *
 *   <prefix>{ev:P}:stream                          the stream (consumer group `aggregate`)
 *   <prefix>{ev:P}:seen:<len>:<campaignId>:<eventId>   dedup marker, TTL dedupTtl
 *
 * The campaign id is length-prefixed because ids may contain ':' ("a:b" + "c" vs "a" + "b:c").
 */
export const STREAM_PARTITIONS = 16;
export const CONSUMER_GROUP = 'aggregate';

export function partitionOf(campaignId: string): number {
  return calculateSlot(campaignId) % STREAM_PARTITIONS;
}

export function streamKey(prefix: string, partition: number): string {
  return `${prefix}{ev:${partition}}:stream`;
}

export function seenKey(prefix: string, partition: number, campaignId: string, eventId: string): string {
  return `${prefix}{ev:${partition}}:seen:${campaignId.length}:${campaignId}:${eventId}`;
}
