import { createStrategy, MemoryStore, StoreUnavailableError, type SessionData, type Strategy } from '@scaleout/core';
import { buildApp, type Framework } from './apps.js';
import { startHttp, type RunningServer } from './http.js';

/**
 * A real MemoryStore with fault injection, for the HTTP layers' outage paths: it can report
 * itself down (emitting `down`/`up` as a network store does), fail writes, or hang them.
 */
export class FaultyStore extends MemoryStore {
  #down = false;
  failWrites = false;
  hangWrites = false;

  // Not local: its writes can hang, so the HTTP layers must time them.
  override get local(): boolean {
    return false;
  }

  override get available(): boolean {
    return !this.#down && super.available;
  }

  goDown(): void {
    this.#down = true;
    this.emit('down', new StoreUnavailableError('injected outage'));
  }

  comeUp(): void {
    this.#down = false;
    this.emit('up');
  }

  override async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    if (this.#down || this.failWrites) throw new StoreUnavailableError('injected write failure');
    if (this.hangWrites) return new Promise(() => {});
    return super.set(id, data, ttlMs);
  }

  override async get(id: string): Promise<SessionData | undefined> {
    if (this.#down) throw new StoreUnavailableError('injected outage');
    return super.get(id);
  }
}

/** A `store` strategy (node `n1`) on a {@link FaultyStore}, with the given store timeout in ms. */
export async function faultyStrategy(timeout = 300): Promise<{ strategy: Strategy; store: FaultyStore }> {
  const strategy = await createStrategy({ strategy: 'store', nodeId: 'n1', secret: 's3cret', session: { storeTimeout: timeout } });
  await strategy.store.close();
  const store = new FaultyStore({ sweepInterval: 50 });
  return { strategy: { ...strategy, store, close: () => store.close() }, store };
}

/** What {@link faultyAppPerTest} gives each test. */
export interface FaultyApp {
  strategy: Strategy;
  store: FaultyStore;
  /** The app's server; a test may replace it (the one held here is closed after the test). */
  server: RunningServer;
}

/**
 * Before each test, a {@link faultyStrategy} and the framework's test app over it on a real
 * HTTP server; after it, both closed. `setUp` sees the strategy before the app is built (to
 * register metrics, say). The object returned is filled anew for each test.
 */
export function faultyAppPerTest(framework: Framework, setUp?: (strategy: Strategy) => void): FaultyApp {
  const app = {} as FaultyApp;
  beforeEach(async function () {
    Object.assign(app, await faultyStrategy());
    setUp?.(app.strategy);
    app.server = await startHttp(buildApp(framework, app.strategy));
  });
  afterEach(async function () {
    await app.server?.close();
    await app.strategy?.close();
  });
  return app;
}
