import type { SessionData } from '@scaleout/core';

/** Turns a session into the bytes stored in Redis and back. */
export interface Serializer {
  stringify(data: SessionData): string | Buffer;
  /** May throw or return anything: whatever is not a plain object reads as no session. */
  parse(raw: string | Buffer): unknown;
  /**
   * Hand `parse` the stored bytes as a Buffer rather than UTF-8 text (for binary formats).
   * @default false
   */
  binary?: boolean;
}

/** The default: JSON text, readable with `redis-cli` and by connect-redis. */
export const JSON_SERIALIZER: Serializer = {
  stringify: (data) => JSON.stringify(data),
  parse: (raw) => JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as unknown,
};
