import { StoreUnavailableError, withTimeout } from '@scaleout/core';
import { Command } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { isCluster } from './redis-scan.js';
import type { ScriptedClient } from './redis-scripts.js';
import { ReplicaAckError, toStoreError } from './errors.js';

/** A pipeline with the store's scripts, and `sendCommand` for a command built here. */
export type Pipeline = ReturnType<RedisClient['pipeline']> & ScriptedClient & { sendCommand(c: Command): unknown };

/**
 * How {@link RedisStore} sends a command: bounded by the operation's deadline, whatever it
 * rejects with mapped to a coded error, and a write followed by `WAIT` when replicas must
 * confirm it.
 */
export class RedisCommandRunner {
  readonly client: RedisClient & ScriptedClient;
  readonly commandTimeout: number;
  readonly #waitReplicas: number;
  readonly #waitTimeout: number;
  /** Whether the client's own command timeout already bounds each call (no extra timer needed). */
  readonly #clientTimesOut: boolean;

  constructor(client: RedisClient & ScriptedClient, options: { commandTimeout: number; waitReplicas: number; waitTimeout: number }) {
    this.client = client;
    this.commandTimeout = options.commandTimeout;
    this.#waitReplicas = options.waitReplicas;
    this.#waitTimeout = options.waitTimeout;
    const clientTimeout = isCluster(client) ? client.options.redisOptions?.commandTimeout : client.options.commandTimeout;
    this.#clientTimesOut = typeof clientTimeout === 'number' && clientTimeout > 0 && clientTimeout <= this.commandTimeout;
  }

  /**
   * Bounds `promise` by the operation's deadline and maps whatever it rejects with to a coded
   * error. A client built with a command timeout (as `createStore` builds it) times each command
   * out itself, so the extra timer is only set for a client that has none.
   */
  async run<T>(operation: string, promise: Promise<T>, timeoutMs = this.commandTimeout): Promise<T> {
    try {
      return await (this.#clientTimesOut ? promise : withTimeout(promise, timeoutMs, operation));
    } catch (err) {
      throw toStoreError(err, operation, timeoutMs);
    }
  }

  /** Throws the first error a pipeline's replies carry. */
  check(operation: string, replies: [Error | null, unknown][] | null): [Error | null, unknown][] {
    if (!replies) throw new StoreUnavailableError(`session store ${operation}: the pipeline was discarded`);
    for (const [err] of replies) if (err) throw toStoreError(err, operation, this.commandTimeout);
    return replies;
  }

  /**
   * Runs a write; with `waitReplicas`, sends it and `WAIT n timeout` in one pipeline (so on the
   * same connection, to the master that holds the key) and fails unless `n` replicas confirmed it.
   * Resolves with the write's own reply.
   */
  async write<T>(operation: string, direct: () => Promise<T>, queued: (p: Pipeline) => unknown): Promise<T> {
    if (this.#waitReplicas === 0) return this.run(operation, direct());
    const pipeline = this.client.pipeline() as Pipeline;
    queued(pipeline);
    const timeoutMs = this.commandTimeout + this.#waitTimeout;
    // WAIT blocks for up to waitTimeout on the server, so it carries its own, longer timer
    // (ioredis only sets the client's command timeout on a command that has none yet).
    const wait = new Command('wait', [this.#waitReplicas, this.#waitTimeout]);
    if (this.#clientTimesOut) wait.setTimeout(timeoutMs);
    pipeline.sendCommand(wait);
    const replies = this.check(operation, await this.run(operation, pipeline.exec(), timeoutMs));
    const acknowledged = Number(replies[replies.length - 1]?.[1]);
    if (!(acknowledged >= this.#waitReplicas)) {
      throw new ReplicaAckError(operation, Number.isFinite(acknowledged) ? acknowledged : 0, this.#waitReplicas, this.#waitTimeout);
    }
    return replies[0]![1] as T;
  }
}
