import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { parseOptions, type Transport, type TransportMessage } from '@scaleout/core';
import { inProcessTransportOptionsSchema, type InProcessTransportOptions } from './in-process-transport-config.js';
import { TransportError } from './errors.js';

const debug = debuglog('scaleout:in-process-transport');

// Kept on globalThis so that every copy of this module in the process (CommonJS and ESM loads of
// one file, two installed versions) shares the same buses.
const REGISTRY = Symbol.for('scaleout.in-process-transport.buses');
const buses: Map<string, Set<InProcessTransport>> = ((globalThis as Record<symbol, unknown>)[REGISTRY] ??= new Map()) as Map<string, Set<InProcessTransport>>;

/**
 * Pub/sub between stores in one process: for tests and single-process use. Delivery is
 * asynchronous and at most once, like Redis pub/sub: `dropRate` loses a fraction of deliveries,
 * and `disconnect()` / `reconnect()` make this member miss everything in between, as a
 * reconnecting Redis subscriber does. A publisher does not receive its own messages.
 */
export class InProcessTransport extends EventEmitter implements Transport {
  /** The name of the bus this member publishes on and listens to. */
  readonly bus: string;
  /** The node whose addressed messages this member receives (set by the store using it). */
  nodeId: string | undefined;
  /** Fraction of deliveries to this member that are dropped (test hook). */
  dropRate: number;
  /** Deliveries dropped so far by `dropRate` or while disconnected. */
  dropped = 0;
  #started = false;
  #closed = false;
  #connected = true;

  constructor(options: InProcessTransportOptions = {}) {
    super();
    const { bus, dropRate } = parseOptions(inProcessTransportOptionsSchema, options ?? {});
    this.bus = bus;
    this.dropRate = dropRate;
  }

  /** Members currently on `bus`. */
  static members(bus: string): number {
    return buses.get(bus)?.size ?? 0;
  }

  async start(): Promise<void> {
    if (this.#closed) throw new TransportError('the in-process transport is closed');
    if (this.#started) return;
    this.#started = true;
    let set = buses.get(this.bus);
    if (!set) buses.set(this.bus, (set = new Set()));
    set.add(this);
    debug('joined bus %s (%d members)', this.bus, set.size);
  }

  async publish(message: TransportMessage, to?: string): Promise<void> {
    if (this.#closed || !this.#started) throw new TransportError(`the in-process transport on bus ${this.bus} is ${this.#closed ? 'closed' : 'not started'}`);
    for (const peer of buses.get(this.bus) ?? []) {
      if (peer === this || (to !== undefined && peer.nodeId !== undefined && peer.nodeId !== to)) continue;
      peer.deliver(message);
    }
  }

  /** Hands a message published on the bus to this member (subject to `dropRate` and disconnects). */
  deliver(message: TransportMessage): void {
    if (!this.#connected || (this.dropRate > 0 && Math.random() < this.dropRate)) {
      this.dropped++;
      return;
    }
    // A copy, as a network would give: no receiver can change what another one sees.
    const copy = Buffer.from(message);
    setImmediate(() => {
      if (this.#connected && !this.#closed) this.emit('message', copy);
    });
  }

  /** Test hook: stop receiving (what is published meanwhile is lost to this member) and emit `down`. */
  disconnect(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.emit('down', new TransportError(`in-process member of bus ${this.bus} disconnected`));
  }

  /** Test hook: receive again and emit `up`. */
  reconnect(): void {
    if (this.#connected || this.#closed) return;
    this.#connected = true;
    this.emit('up');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const set = buses.get(this.bus);
    set?.delete(this);
    if (set && set.size === 0) buses.delete(this.bus);
  }

  /** Closes the transport, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
