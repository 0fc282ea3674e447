import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { Client, LifecycleState, ReconnectMode, type ITopic } from 'hazelcast-client';
import {
  TransportError, withTimeout,
  type PluginContext, type Transport, parseOptions, type TransportMessage,
} from '@scaleout/core';
import {
  hazelcastTransportConfigSchema, hazelcastTransportOptionsSchema,
  type HazelcastTransportConfigInput, type HazelcastTransportOptions, type ResolvedHazelcastTransportOptions,
} from './hazelcast-config.js';

const debug = debuglog('scaleout:hazelcast-transport');

type HzClient = Awaited<ReturnType<typeof Client.newHazelcastClient>>;

/**
 * A Hazelcast reliable topic as a cluster transport. The topic sits on a ringbuffer, so a listener
 * that was briefly disconnected reads on from where it stopped; what the ringbuffer overwrote in
 * the meantime is lost, and the replicated store's sequence check finds it. `down` / `up`
 * follow the client's connection to the cluster.
 *
 * Every frame is kept in the member's ringbuffer (`_hz_rb_<topic>`, 10,000 items by default):
 * size its capacity or TTL on the member for the snapshot chunks it will hold.
 */
export class HazelcastTransport extends EventEmitter implements Transport {
  /** The name of the reliable topic the nodes share. */
  readonly topicName: string;
  readonly #o: ResolvedHazelcastTransportOptions;
  #client: HzClient | undefined;
  #topic: ITopic<Buffer> | undefined;
  #started: Promise<void> | undefined;
  #closed = false;
  #up = false;

  constructor(options: HazelcastTransportOptions) {
    super();
    this.#o = parseOptions(hazelcastTransportOptionsSchema, options ?? {});
    this.topicName = this.#o.topic;
  }

  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError('the Hazelcast transport is closed'));
    return (this.#started ??= this.#start());
  }

  async #start(): Promise<void> {
    const o = this.#o;
    const starting = Client.newHazelcastClient({
      clusterName: o.clusterName,
      network: { clusterMembers: o.members, connectionTimeout: o.connectTimeout },
      connectionStrategy: {
        asyncStart: false,
        reconnectMode: ReconnectMode.ON,
        connectionRetry: { clusterConnectTimeoutMillis: o.connectTimeout, initialBackoffMillis: 100, maxBackoffMillis: 1000 },
      },
      ...(o.username !== undefined || o.password !== undefined ? { security: { usernamePassword: { username: o.username ?? null, password: o.password ?? null } } } : {}),
      lifecycleListeners: [(state: LifecycleState) => this.#lifecycle(state)],
      properties: { 'hazelcast.logging.level': 'OFF', 'hazelcast.client.statistics.enabled': false },
    });
    let client: HzClient;
    try {
      client = await withTimeout(starting, o.connectTimeout + 1000, 'connect');
    } catch (err) {
      starting.then((c) => c.shutdown()).catch(() => undefined);
      throw new TransportError(`the Hazelcast transport cannot reach cluster "${o.clusterName}" at ${o.members.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
    if (this.#closed) {
      await client.shutdown();
      throw new TransportError('the Hazelcast transport was closed while starting');
    }
    this.#client = client;
    const topic = await client.getReliableTopic<Buffer>(this.topicName);
    topic.addMessageListener((msg) => {
      const value = msg.messageObject as unknown;
      if (this.#closed) return;
      if (Buffer.isBuffer(value)) this.emit('message', value);
      else debug('ignored a non-binary message on %s', this.topicName);
    });
    this.#topic = topic;
    this.#up = true;
    debug('listening on reliable topic %s', this.topicName);
  }

  #lifecycle(state: LifecycleState): void {
    if (this.#closed || !this.#topic) return;
    if (state === LifecycleState.DISCONNECTED && this.#up) {
      this.#up = false;
      this.emit('down', new TransportError('the Hazelcast client lost its connection to the cluster'));
    } else if (state === LifecycleState.CONNECTED && !this.#up) {
      this.#up = true;
      this.emit('up');
    }
  }

  async publish(message: TransportMessage): Promise<void> {
    const topic = this.#topic;
    if (this.#closed || !topic) throw new TransportError(`the Hazelcast transport is ${this.#closed ? 'closed' : 'not started'}`);
    try {
      await topic.publish(Buffer.isBuffer(message) ? message : Buffer.from(message));
    } catch (err) {
      throw new TransportError(`publish to Hazelcast topic ${this.topicName} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#up = false;
    await this.#client?.shutdown().catch(() => undefined);
  }

  /** Closes the transport, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Opens the transport a `cluster.transport: { type: "hazelcast" }` section describes (what the
 * `cluster` strategy calls for that type), validated with the type's schema: a refusal is a
 * `ConfigError` naming `cluster.transport.<field>`.
 */
export async function createTransport(section: HazelcastTransportConfigInput, _context: PluginContext): Promise<Transport> {
  const { type: _type, ...config } = parseOptions(hazelcastTransportConfigSchema, section, ['cluster', 'transport']);
  return new HazelcastTransport(config);
}
