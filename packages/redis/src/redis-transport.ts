import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import {
  ErrorCodes, InvalidArgumentError, ScaleoutError, withTimeout,
  parseOptions, type PluginContext, type Transport, type TransportMessage,
} from '@scaleout/core';
import { redisTransportConfigSchema, type RedisTransportConfigInput } from './redis-transport-config.js';

const debug = debuglog('scaleout:redis-transport');

/** Options of {@link RedisTransport}. */
export interface RedisTransportOptions {
  /**
   * The Redis server, as a `redis://` or `rediss://` URL.
   * @default "redis://127.0.0.1:6379"
   */
  url?: string;
  /**
   * The pub/sub channel; clusters sharing a Redis use different channels.
   * @default "scaleout"
   */
  channel?: string;
  /**
   * This node's id: messages addressed to it arrive on its own channel (`<channel>:node:<id>`),
   * so a snapshot streamed to one node does not flow through every other subscriber. A
   * replicated store sets it when left out.
   */
  nodeId?: string;
  /** ACL user name, if not in the URL. */
  username?: string;
  /** Password, if not in the URL. */
  password?: string;
  /**
   * Longest a publish may take before it fails.
   * @default 2000
   */
  publishTimeout?: number;
}

/** Defaults of {@link RedisTransportOptions}. */
export const DEFAULT_REDIS_TRANSPORT_OPTIONS = {
  /** A Redis on this host's default port. */
  url: 'redis://127.0.0.1:6379',
  /** The pub/sub channel the nodes share. */
  channel: 'scaleout',
  /** 2 s. */
  publishTimeout: 2000,
} as const;

function transportError(message: string, cause?: unknown): ScaleoutError {
  const err = new ScaleoutError(ErrorCodes.TRANSPORT, message, cause === undefined ? undefined : { cause });
  err.name = 'TransportError';
  return err;
}

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
  /** See {@link RedisTransportOptions.nodeId}; fixed once started. */
  nodeId: string | undefined;
  /**
   * Test hook: the fraction (0 to 1) of received messages silently dropped, to prove that the
   * store detects and repairs loss. Always 0 in production.
   */
  dropRate = 0;
  /** Messages dropped by `dropRate` so far. */
  dropped = 0;
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
    const d = DEFAULT_REDIS_TRANSPORT_OPTIONS;
    const url = options.url ?? d.url;
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw new InvalidArgumentError('url', `url must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
    const channel = options.channel ?? d.channel;
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > 128) {
      throw new InvalidArgumentError('channel', `channel must be a string of 1 to 128 characters, got ${JSON.stringify(channel)}`);
    }
    const publishTimeout = options.publishTimeout ?? d.publishTimeout;
    if (!Number.isInteger(publishTimeout) || publishTimeout <= 0) {
      throw new InvalidArgumentError('publishTimeout', `publishTimeout must be a whole number of ms > 0, got ${String(publishTimeout)}`);
    }
    if (options.nodeId !== undefined && (typeof options.nodeId !== 'string' || options.nodeId.length === 0)) {
      throw new InvalidArgumentError('nodeId', `nodeId must be a non-empty string, got ${JSON.stringify(options.nodeId)}`);
    }
    this.#url = url;
    this.channel = channel;
    this.nodeId = options.nodeId;
    this.#publishTimeout = publishTimeout;
    this.#options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
    };
  }

  /** True while the subscriber is subscribed. */
  get connected(): boolean {
    return this.#up;
  }

  start(): Promise<void> {
    if (this.#closed) return Promise.reject(transportError('the Redis transport is closed'));
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
      if (this.dropRate > 0 && Math.random() < this.dropRate) this.dropped++;
      else this.emit('message', message);
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
      throw transportError(`the Redis transport cannot reach ${redact(this.#url)}: ${(err as Error).message}`, err);
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
    this.emit('down', transportError('the Redis subscriber connection was lost; messages published meanwhile are gone'));
  }

  async publish(message: TransportMessage, to?: string): Promise<void> {
    const pub = this.#pub;
    if (this.#closed || !pub) throw transportError(`the Redis transport is ${this.#closed ? 'closed' : 'not started'}`);
    // Node channels are used only by transports that know their node: then every peer does too.
    const channel = to !== undefined && this.#channels.length > 1 ? this.#nodeChannel(to) : this.channel;
    try {
      await pub.publish(channel, Buffer.isBuffer(message) ? message : Buffer.from(message));
    } catch (err) {
      throw transportError(`publish to Redis channel ${this.channel} failed: ${(err as Error).message}`, err);
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

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * Opens the transport a `cluster.transport: { type: "redis" }` section describes (what the
 * `cluster` strategy calls for that type), validated with the type's schema: a refusal is a
 * `ConfigError` naming `cluster.transport.<field>`.
 */
export async function createTransport(section: RedisTransportConfigInput, context: PluginContext): Promise<Transport> {
  const config = parseOptions(redisTransportConfigSchema, section, ['cluster', 'transport']);
  return new RedisTransport({
    url: config.url,
    channel: config.channel,
    nodeId: context.nodeId,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
  });
}
