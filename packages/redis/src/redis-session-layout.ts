import { InvalidArgumentError, isSessionData, type SessionData } from '@scaleout/core';
import type { RedisCommandRunner } from './redis-command-runner.js';
import { byteSize, decodeHash, metaFields, sessionFields, type Serializer } from './serializer.js';

/**
 * How a session is laid out in Redis, read and written: a hash (see serializer.ts), or, left by
 * scaleout 0.1 or connect-redis, a string in `serializer`'s format, read until its next save
 * rewrites it as a hash. A value that is neither is reported through `invalid` and read as no
 * session.
 */
export class RedisSessionLayout {
  readonly serializer: Serializer;
  readonly #runner: RedisCommandRunner;
  readonly #maxValueBytes: number;
  readonly #invalid: (id: string) => undefined;

  constructor(runner: RedisCommandRunner, options: { serializer: Serializer; maxValueBytes: number; invalid: (id: string) => undefined }) {
    this.#runner = runner;
    this.serializer = options.serializer;
    this.#maxValueBytes = options.maxValueBytes;
    this.#invalid = options.invalid;
  }

  /** One `HGETALL`; a key in the string layout costs a `GET` more, until its next save rewrites it. */
  async read(id: string, key: string): Promise<SessionData | undefined> {
    let fields: Record<string, string>;
    try {
      fields = await this.#runner.run('get', this.#runner.client.hgetall(key));
    } catch (err) {
      if (isWrongType(err)) return this.#readString(id, key);
      throw err;
    }
    for (const _ in fields) return decodeHash(fields, this.#maxValueBytes) ?? this.#invalid(id);
    return undefined;
  }

  async #readString(id: string, key: string): Promise<SessionData | undefined> {
    const client = this.#runner.client;
    let raw: string | Buffer | null;
    try {
      raw = await this.#runner.run<string | Buffer | null>('get', this.serializer.binary ? client.getBuffer(key) : client.get(key));
    } catch (err) {
      // A list, a set, a stream under the prefix: a value of the wrong shape.
      if (isWrongType(err)) return this.#invalid(id);
      throw err;
    }
    return raw === null ? undefined : this.decodeString(id, raw);
  }

  /** A session in the string layout, or `undefined` (counted) when the value is not one. */
  decodeString(id: string, raw: string | Buffer): SessionData | undefined {
    if (raw.length > this.#maxValueBytes) return this.#invalid(id);
    let value: unknown;
    try {
      value = this.serializer.parse(raw);
    } catch {
      return this.#invalid(id);
    }
    return isSessionData(value) ? value : this.#invalid(id);
  }

  /** The hash of a whole session: its fields and the metadata of a full write. */
  encode(data: SessionData, ttlMs: number): string[] {
    if (!isSessionData(data)) throw new InvalidArgumentError('data', 'session data must be a plain object');
    let pairs: string[];
    try {
      pairs = sessionFields(data, metaFields(ttlMs, Date.now(), true));
    } catch (err) {
      throw new InvalidArgumentError('data', `session values must be JSON: ${(err as Error).message}`);
    }
    this.checkSize(pairs);
    return pairs;
  }

  checkSize(pairs: readonly string[]): void {
    const bytes = byteSize(pairs);
    if (bytes > this.#maxValueBytes) {
      throw new InvalidArgumentError('data', `session ${bytes} bytes long exceeds maxValueBytes ${this.#maxValueBytes}`);
    }
  }
}

/** A user field as a script replied it (a Buffer from the binary variant of the patch). */
export function fieldText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

/** Redis refused a command for the key's type (a hash read as a string, a list read as a hash). */
export function isWrongType(err: unknown): boolean {
  return err instanceof Error && /WRONGTYPE/.test(err.message);
}
