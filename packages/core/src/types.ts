import type { EventEmitter } from 'node:events';
import type { RouteCookie } from './route-cookie.js';
import type { ScaleoutConfig } from './config.js';
import type { SessionPatch } from './session-patch.js';
import type { SessionObserver } from './engine/session-observer.js';

/** What a session holds: a plain JSON object. Framework fields (`cookie`, `_expire`) ride along. */
export type SessionData = Record<string, unknown>;

/**
 * The one interface every session backend implements. Promises only; events as below.
 *
 * Events: `ready` (usable), `down` (backend unreachable, with the error), `up` (back),
 * `error` (a problem that did not stop the store), `evict` (memory bound reached, with the id).
 */
export interface SessionStore extends EventEmitter {
  /** The session, or `undefined` when there is none or the stored value is not a session object. */
  get(id: string): Promise<SessionData | undefined>;
  /** Writes the whole session, to expire `ttlMs` from now. */
  set(id: string, data: SessionData, ttlMs: number): Promise<void>;
  /** Moves the expiry to `ttlMs` from now (sliding expiry); a missing id is not an error. */
  touch(id: string, ttlMs: number): Promise<void>;
  /** Removes the session; a missing id is not an error. */
  destroy(id: string): Promise<void>;
  /** Every live id, streamed: never one huge array. */
  ids(): AsyncIterable<string>;
  /** How many live sessions there are. */
  size(): Promise<number>;
  /** Removes every session of this store (its prefix, map or replica set only). */
  clear(): Promise<void>;
  /** Stops timers and sockets. Safe to call twice. */
  close(): Promise<void>;
  /** `false` while the backend is known to be unreachable (between `down` and `up`). */
  readonly available?: boolean;
  /**
   * `true` when operations run in this process and cannot hang (memory): the HTTP layers then
   * skip their per-operation timers.
   */
  readonly local?: boolean;
  /**
   * Optional, for a store in this process: the same operations done at once, each returning
   * what its promise resolves to (or throwing what it rejects with). The session engine then
   * loads and saves a request's session with no promise chain.
   */
  readonly sync?: SyncSessionOps;
  /**
   * Optional: applies only what a request changed, atomically, and moves the expiry to `ttlMs`
   * from now. Resolves `false`, writing nothing, when the session does not exist (expired or
   * destroyed meanwhile): a late save must not bring a destroyed session back.
   */
  patch?(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean>;
  /**
   * Optional: takes the per-session lock (held at most `ttlMs`, so a dead holder cannot block
   * others), waiting up to `waitMs`. Resolves to the release function; rejects with
   * `ERR_SCALEOUT_LOCK_TIMEOUT` when the wait runs out.
   */
  lock?(id: string, options: LockOptions): Promise<() => Promise<void>>;
  /**
   * Optional: starts keeping an index of sessions by the value of their top-level key `userKey`
   * (a string of 1 to 256 characters; anything else means no user). `createStrategy` calls it
   * once, before the store is used. A store that indexes also emits `expired` (id, userId?)
   * when a session ends by its TTL, where the backend can tell.
   */
  indexUsers?(userKey: string): void;
  /**
   * Optional, with `indexUsers`: the ids of the user's sessions. The cost grows with that user's
   * sessions, never with the store. It may include ids that have just gone; callers read each.
   */
  sessionsOf?(userId: string): Promise<string[]>;
  /**
   * Optional, with `indexUsers`: claims the `expired` event of session `id` for node `nodeId`, in
   * one atomic step in the store. Of every node that claims the same expiry, exactly one gets
   * `true`. What `sessions.events: "once"` needs; a store without it offers only `every-node`.
   */
  claimExpired?(id: string, nodeId: string): Promise<boolean>;
}

/** {@link SessionStore}'s per-session operations, done synchronously by an in-process store. */
export interface SyncSessionOps {
  /** As {@link SessionStore.get}, at once: the session, or `undefined` when there is none. */
  get(id: string): SessionData | undefined;
  /** As {@link SessionStore.set}, at once: writes the whole session, to expire `ttlMs` from now. */
  set(id: string, data: SessionData, ttlMs: number): void;
  /** As {@link SessionStore.patch}, at once: applies the change and moves the expiry; `false`, writing nothing, when the session does not exist. */
  patch(id: string, patch: SessionPatch, ttlMs: number): boolean;
  /** As {@link SessionStore.touch}, at once: moves the expiry to `ttlMs` from now; a missing id is not an error. */
  touch(id: string, ttlMs: number): void;
  /** As {@link SessionStore.destroy}, at once: removes the session; a missing id is not an error. */
  destroy(id: string): void;
}

/** What `strategy.sessions.byUser()` tells about one session (times in ms since the epoch). */
export interface SessionInfo {
  /** The session id. */
  id: string;
  /** The user the session belongs to. */
  userId: string;
  /** When the session was first saved (unknown for a session saved before this was recorded: its last activity). */
  createdAt: number;
  /** The last request that moved its expiry (within `touchAfter`). */
  lastSeenAt: number;
  /** When it expires unless used again. */
  expiresAt: number;
  /** What the app gave `login(..., { meta })`: a user agent, an IP. */
  meta?: Record<string, unknown>;
}

/** Options of `SessionDirectory.destroyUser`. */
export interface DestroyUserOptions {
  /** A session to keep (the one the user is using). */
  except?: string;
}

/** The sessions of the fleet by user: `strategy.sessions`. */
export interface SessionDirectory {
  /** Every live session of the user. */
  byUser(userId: string): Promise<SessionInfo[]>;
  /** Destroys every session of the user but `except`; resolves with how many were destroyed. */
  destroyUser(userId: string, options?: DestroyUserOptions): Promise<number>;
  /** Destroys one session; `false` when there was none. */
  destroy(id: string): Promise<boolean>;
  /** How many live sessions there are. */
  count(): Promise<number>;
}

/** A session event: `strategy.on('session', (e) => ...)`. */
export interface SessionEvent {
  /** What happened: a session saved for the first time, destroyed, expired in the store, or given another user. */
  type: 'created' | 'destroyed' | 'expired' | 'userChanged';
  /** The session id. */
  id: string;
  /** The session's user (for `userChanged`, the new one; absent when it has none). */
  userId?: string;
  /** When it happened, ms since the epoch. */
  at: number;
}

/** How long a session lock is held and waited for. */
export interface LockOptions {
  /** The lock expires on its own after this long (its holder may have died). */
  ttlMs: number;
  /** Longest to wait for the lock. */
  waitMs: number;
}

/** The strategy kinds. */
export type StrategyKind = 'sticky' | 'cluster' | 'store';

/** Session settings resolved from the config, shared by the Express and Koa layers. */
export interface SessionSettings {
  /** Secrets, newest first: the first signs, all verify. */
  secret: string[];
  /** Session lifetime in ms (sliding). */
  ttlMs: number;
  /** Name of the session cookie. */
  cookieName: string;
  /** Longest a store operation may take before the request gets a 503, in ms. */
  storeTimeoutMs: number;
  /** What a request meets while the store is down: a 503 (`fail`) or no session (`bypass`). */
  onStoreDown: 'fail' | 'bypass';
  /** Whether cookies carry `Secure`: `auto` follows the request's protocol. */
  secure: boolean | 'auto';
  /** The `SameSite` cookie attribute. */
  sameSite: 'lax' | 'strict' | 'none';
  /** The session key that holds the user's id. */
  userKey: string;
}

/** A configured session strategy: what the Express and Koa layers are built from. */
export interface Strategy {
  /** Which strategy this is. */
  kind: StrategyKind;
  /** This node's id (`config.nodeId`). */
  nodeId: string;
  /** Where this node reads and writes sessions. */
  store: SessionStore;
  /** `sticky` only: the cookie that pins a client to this node. */
  route?: RouteCookie;
  /** The resolved session settings. */
  session: SessionSettings;
  /** The whole validated config. */
  config: ScaleoutConfig;
  /** The fleet's sessions by user. */
  sessions: SessionDirectory;
  /** Session events (`created`, `destroyed`, `expired`, `userChanged`); where each is delivered: docs/sessions-by-user.md. */
  on(event: 'session', listener: (e: SessionEvent) => void): unknown;
  /** Removes a listener added with `on()`. */
  off(event: 'session', listener: (e: SessionEvent) => void): unknown;
  /** Delivers a session event to this process's listeners. */
  emit(event: 'session', e: SessionEvent): boolean;
  /** Told of each request's session load, save and outcome (set by `metrics()`); none by default. */
  observer?: SessionObserver;
  /** Closes the store and whatever else the strategy started. Safe to call twice. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A message that a transport carries between nodes: opaque bytes. */
export type TransportMessage = Uint8Array;

/**
 * Carries messages from one node to all its peers (pub/sub). Delivery may be at most once:
 * a receiver must detect gaps itself. Events: `message` (bytes), `down`, `up`, `error`.
 */
export interface Transport extends EventEmitter {
  /** Resolves once the transport can publish and receive. */
  start(): Promise<void>;
  /**
   * Sends to every peer (and, depending on the transport, possibly back to this node). With `to`,
   * the message is meant for that node only: a transport that can address nodes delivers it to
   * that node alone (sparing the others a snapshot's worth of bytes); one that cannot delivers
   * it to all, and receivers ignore what is not theirs.
   */
  publish(message: TransportMessage, to?: string): Promise<void>;
  /** Stops the transport. Safe to call twice. */
  close(): Promise<void>;
  /**
   * The node whose addressed messages this transport receives. A transport that can address
   * nodes takes it from its options, or from the store using it, which sets it before `start()`.
   */
  nodeId?: string;
}
