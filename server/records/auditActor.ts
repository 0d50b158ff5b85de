import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who is making a registry change, carried from the HTTP request to the store's audit row without
 * threading it through the runtime's interface. Outside a request (start-up import, repair) the
 * fallback names the process.
 */
const actorStore = new AsyncLocalStorage<string>();

export function withActor<T>(actor: string, work: () => Promise<T>): Promise<T> {
  return actorStore.run(actor, work);
}

export function currentActor(fallback: string): string {
  return actorStore.getStore() ?? fallback;
}
