import { MemoryStore, StoreUnavailableError, type SessionData } from '@scaleout/core';

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
