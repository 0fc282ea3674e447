import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import {
  redactCredentials, TransportError, withTimeout,
  parseOptions, type PluginContext, type Transport, type TransportMessage,
} from '@scaleout/core';
import { redisTransportConfigSchema, redisTransportOptionsSchema, type RedisTransportConfigInput, type RedisTransportOptions } from './redis-transport-config.js';

const debug = debuglog('scaleout:redis-transport');

/**
 * Redis pub/sub as a cluster transport. A subscriber connection is dedicated to the channel (a
 * connection in subscribe mode can run nothing else); a second one publishes. Pub/sub delivers at
 * most once and drops what is published while the subscriber reconnects: this transport says so
 * with `down` when the subscriber's connection drops and `up` once it is subscribed again, and
 * the replicated store resyncs on `up`.
 */
export class RedisTransport extends EventEmitter implements Transport {
  /** The pub/sub channel the nodes share. */
  readonly channel: string;
  /** This node's id (the option `nodeId`): messages addressed to it arrive on its own channel; fixed once started. */
  nodeId: string | undefined;
  readonly #url: string;
  readonly #options: RedisOptions;
  readonly #publishTimeout: number;
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  #started: Promise<void> | undefined;
  #closed = false;
  #up = false;
  #subscribedOnce = false;
  #channels: string[] = [];

  constructor(options: RedisTransportOptions = {}) {
    super();
    const { url, channel, nodeId, publishTimeout, username, password } = parseOptions(redisTransportOptionsSchema, options ?? {});
    this.#url = url;
    this.channel = channel;
    this.nodeId = nodeId;
    this.#publishTimeout = publishTimeout;
    this.#options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    };
  }

  /** True while the subscriber is subscribed. */
  get connected(): boolean {
    return this.#up;
  }

  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError('the Redis transport is closed'));
    return (this.#started ??= this.#start());
  }

  async #start(): Promise<void> {
    const pub = new Redis(this.#url, { ...this.#options, commandTimeout: this.#publishTimeout, connectionName: 'scaleout-pub' });
    // Resubscribing is done here, not by ioredis, so that `up` is emitted only once it is done.
    const sub = new Redis(this.#url, { ...this.#options, autoResubscribe: false, connectionName: 'scaleout-sub' });
    this.#pub = pub;
    this.#sub = sub;
    for (const client of [pub, sub]) client.on('error', (err: Error) => debug('%s: %s', client.options.connectionName, err.message));
    const channels = this.nodeId === undefined ? [this.channel] : [this.channel, this.#nodeChannel(this.nodeId)];
    this.#channels = channels;
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (!this.#up || !channels.includes(channel.toString())) return;
      this.emit('message', message);
    });
    sub.on('close', () => this.#down());
    sub.on('ready', () => {
      // The first `ready` belongs to start(); later ones follow a reconnect.
      if (this.#up || this.#closed || !this.#subscribedOnce) return;
      sub.subscribe(...channels).then(
        () => this.#markUp(),
        (err: Error) => debug('resubscribe failed: %s', err.message),
      );
    });
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(...channels);
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw new TransportError(redactCredentials(`the Redis transport cannot reach ${this.#url}: ${(err as Error).message}`), { cause: err });
    }
    this.#up = true;
    this.#subscribedOnce = true;
    debug('subscribed to %s', this.channel);
  }

  #nodeChannel(nodeId: string): string {
    return `${this.channel}:node:${nodeId}`;
  }

  #markUp(): void {
    if (this.#up || this.#closed) return;
    this.#up = true;
    debug('subscribed again to %s', this.channel);
    this.emit('up');
  }

  #down(): void {
    if (!this.#up || this.#closed) return;
    this.#up = false;
    debug('subscriber connection lost');
    this.emit('down', new TransportError('the Redis subscriber connection was lost; messages published meanwhile are gone'));
  }

  async publish(message: TransportMessage, to?: string): Promise<void> {
    const pub = this.#pub;
    if (this.#closed || !pub) throw new TransportError(`the Redis transport is ${this.#closed ? 'closed' : 'not started'}`);
    // Node channels are used only by transports that know their node: then every peer does too.
    const channel = to !== undefined && this.#channels.length > 1 ? this.#nodeChannel(to) : this.channel;
    try {
      await pub.publish(channel, Buffer.isBuffer(message) ? message : Buffer.from(message));
    } catch (err) {
      throw new TransportError(`publish to Redis channel ${this.channel} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#up = false;
    const clients = [this.#pub, this.#sub].filter((c): c is Redis => c !== undefined);
    // QUIT waits in the offline queue while Redis is unreachable: only a connected client gets one.
    await Promise.all(
      clients.map(async (c) => {
        if (c.status !== 'ready') return c.disconnect();
        await withTimeout(c.quit(), 1000, 'quit').catch(() => c.disconnect());
      }),
    );
  }

  /** Closes the transport, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Opens the transport a `cluster.transport: { type: "redis" }` section describes (what the
 * `cluster` strategy calls for that type), validated with the type's schema: a refusal is a
 * `ConfigError` naming `cluster.transport.<field>`.
 */
export async function createTransport(section: RedisTransportConfigInput, context: PluginContext): Promise<Transport> {
  const { type: _type, ...config } = parseOptions(redisTransportConfigSchema, section, ['cluster', 'transport']);
  return new RedisTransport({ ...config, nodeId: context.nodeId });
}
