import type { FastifyInstance } from 'fastify';
import type { PacerRuntime, RuntimeEvent } from '../runtime/types';
import { sameOrigin } from './access';
import { campaignToJson } from './campaignJson';
import { budgetStatusToJson, healthToJson } from './statusJson';

/** What this module needs of a `ws` socket (the package ships no types of its own). */
interface Client {
  readonly readyState: number;
  send(text: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'close', listener: () => void): void;
}
const WS_OPEN = 1;

/**
 * WS /ws/budget-updates: a snapshot of every campaign on connect, then the runtime's events as
 * JSON in the API's units (cents). Spend events are coalesced per campaign within one turn of the
 * event loop, so a burst of win notices costs one message per campaign, not one per notice;
 * each message is serialised once for all clients. The route listens to the runtime only while a
 * client is connected: a listener makes the runtime build a BudgetStatus per counted spend and
 * this module one per campaign change (10,000 of them when a fresh instance loads its campaigns).
 */
export function budgetUpdates(app: FastifyInstance, runtime: PacerRuntime): void {
  const clients = new Set<Client>();
  const pendingSpend = new Map<string, RuntimeEvent & { type: 'spend' }>();
  let flushScheduled = false;
  let unsubscribe: (() => void) | null = null;

  const broadcast = (message: unknown): void => {
    if (clients.size === 0) return;
    const text = JSON.stringify(message);
    for (const ws of clients) if (ws.readyState === WS_OPEN) ws.send(text);
  };

  const snapshot = () => ({
    type: 'snapshot',
    health: healthToJson(runtime.health()),
    campaigns: runtime.listCampaigns().map((c) => {
      const s = runtime.status(c.id);
      return { campaign: campaignToJson(c), status: s === null ? null : budgetStatusToJson(s) };
    }),
  });

  const flushSpend = (): void => {
    flushScheduled = false;
    for (const event of pendingSpend.values()) {
      broadcast({ type: 'spend', campaign_id: event.campaignId, status: budgetStatusToJson(event.status) });
    }
    pendingSpend.clear();
  };

  const onEvent = (event: RuntimeEvent): void => {
    switch (event.type) {
      case 'spend':
        if (clients.size === 0) return;
        pendingSpend.set(event.campaignId, event);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flushSpend);
        }
        return;
      case 'breaker':
        broadcast({
          type: 'breaker',
          campaign_id: event.campaignId,
          state: event.state,
          at: new Date(event.atMs).toISOString(),
        });
        return;
      case 'campaign': {
        const c = event.deleted ? null : runtime.getCampaign(event.campaignId);
        const s = c === null ? null : runtime.status(event.campaignId);
        broadcast({
          type: 'campaign',
          campaign_id: event.campaignId,
          deleted: event.deleted,
          campaign: c === null ? null : campaignToJson(c),
          status: s === null ? null : budgetStatusToJson(s),
        });
        return;
      }
      case 'health':
        broadcast({ type: 'health', health: healthToJson(event.health) });
        return;
    }
  };

  app.get('/ws/budget-updates', { websocket: true, schema: { hide: true } }, (socket: Client, request) => {
    if (!sameOrigin(request)) {
      socket.close(1008, 'cross-origin WebSocket refused');
      return;
    }
    clients.add(socket);
    unsubscribe ??= runtime.onEvent(onEvent);
    socket.on('close', () => {
      clients.delete(socket);
      if (clients.size === 0 && unsubscribe !== null) {
        unsubscribe();
        unsubscribe = null;
      }
    });
    // Messages from clients are not part of the protocol; the socket only listens to the server.
    socket.send(JSON.stringify(snapshot()));
  });

  app.addHook('onClose', async () => {
    unsubscribe?.();
    unsubscribe = null;
    for (const ws of clients) ws.close(1001, 'server shutting down');
    clients.clear();
  });
}
