import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import {
  applyPatch, checkSessionId, checkTtl, decodeSession, ErrorCodes, InvalidArgumentError, LocalUserIndex, ScaleoutError,
  type SessionData, type SessionPatch, type SessionStore, type Transport,
} from '@scaleout/core';
import { AntiEntropy } from './anti-entropy.js';
import { NotReadyError } from './errors.js';
import type { FrameHeader } from './frame.js';
import { FrameChannel } from './frame-channel.js';
import { HybridClock } from './hybrid-clock.js';
import { MessageType } from './messages.js';
import { newCounters, type NodeLink, type ReplicationCounters } from './node-link.js';
import { Outbox } from './outbox.js';
import { resolveOptions, type ReplicatedStoreOptions, type ResolvedOptions } from './replicated-store-options.js';
import { canonicalJson, type KeyVersion } from './key-versions.js';
import { ReplicaState, type EntryState } from './replica-state.js';
import { helloAckBody, Joiner, SnapshotServer } from './snapshot.js';
import { Reader, WireError } from './wire.js';

const debug = debuglog('scaleout:replicated-store');

/** Room kept in a frame for its header and MAC. */
const FRAME_OVERHEAD = 1024;

/** What {@link ReplicatedStore.stats} reports. */
export interface ReplicatedStoreStats extends ReplicationCounters {
  /** This node's id. */
  nodeId: string;
  /** True once the node has its snapshot (or found it is alone). */
  ready: boolean;
  /** Live sessions held. */
  sessions: number;
  /** Tombstones of destroyed sessions held until their expiry. */
  tombstones: number;
  /** Peers heard from within two anti-entropy intervals. */
  peers: string[];
}

/**
 * A session store whose every node holds every session, kept in sync over a {@link Transport}.
 * Reads are local; writes apply locally and are published, batched per event-loop turn.
 * Versions (hybrid logical clock + node id) order concurrent writes the same way on every node;
 * destroyed sessions leave tombstones until their expiry; sequence gaps and reconnects start a
 * repair; a periodic digest exchange repairs whatever else diverged; a joining node copies a
 * snapshot before it reports `ready`. See docs/cluster.md.
 *
 * Events: `ready`, `transport-down` / `transport-up` (replication paused / resumed; reads and
 * writes go on locally), `replicated` (ms from a peer's write, by its clock, to its apply here),
 * `error`.
 */
export class ReplicatedStore extends EventEmitter implements SessionStore {
  /** Sessions are served from memory, so the store itself is always available. */
  readonly available = true;
  /** This node's id, as peers address it. */
  readonly nodeId: string;
  readonly #o: ResolvedOptions;
  readonly #transport: Transport;
  readonly #channel: FrameChannel;
  readonly #clock: HybridClock;
  readonly #state = new ReplicaState();
  readonly #counters = newCounters();
  readonly #link: NodeLink;
  readonly #ae: AntiEntropy;
  readonly #snapshots: SnapshotServer;
  readonly #joiner: Joiner;
  readonly #outbox: Outbox;
  readonly #resyncing = new Set<string>();
  readonly #onMessage = (m: Uint8Array) => this.receive(m);
  readonly #onDown = (err?: unknown) => this.#transportDown(err);
  readonly #onUp = () => this.#transportUp();
  #users: LocalUserIndex | undefined;
  #otherSelf = 0;
  #ready = false;
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #aeTimer: NodeJS.Timeout | undefined;

  constructor(options: ReplicatedStoreOptions) {
    super();
    this.#o = resolveOptions(options);
    this.nodeId = this.#o.nodeId;
    this.#transport = this.#o.transport;
    if (this.#transport.nodeId === undefined) this.#transport.nodeId = this.nodeId;
    else if (this.#transport.nodeId !== this.nodeId) {
      throw new InvalidArgumentError('transport', `the transport belongs to node "${this.#transport.nodeId}", not "${this.nodeId}"`);
    }
    this.#clock = new HybridClock(this.nodeId);
    this.#channel = new FrameChannel({
      nodeId: this.nodeId,
      secret: this.#o.secret,
      transport: this.#transport,
      counters: this.#counters,
      maxMessageBytes: this.#o.maxMessageBytes,
      replayWindowMs: this.#o.replayWindow,
      onDuplicateNodeId: (incarnation) => this.#duplicateNodeId(incarnation),
    });
    this.#link = {
      nodeId: this.nodeId,
      state: this.#state,
      chunkBytes: Math.min(512 * 1024, Math.floor(this.#o.maxMessageBytes / 2)),
      counters: this.#counters,
      send: (type, body, to = '') => this.#channel.send(type, body, to),
      apply: (id, s) => this.#apply(id, s),
      // Only a listener (metrics) pays for reading the clock.
      replicated: (originMs) => {
        if (this.listenerCount('replicated') > 0) this.emit('replicated', Date.now() - originMs);
      },
      fail: (err) => this.#fail(err),
    };
    this.#ae = new AntiEntropy(this.#link, Math.min(2000, this.#o.antiEntropyInterval / 2));
    this.#snapshots = new SnapshotServer(this.#link);
    this.#joiner = new Joiner(this.#link, this.#o.discoveryWait);
    this.#outbox = new Outbox(this.#link, this.#state);
    this.#transport.on('message', this.#onMessage);
    this.#transport.on('down', this.#onDown);
    this.#transport.on('up', this.#onUp);
  }

  /** True once the node holds a snapshot (or found itself alone). */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Starts the transport and joins the cluster; resolves once ready. Rejects with
   * `ERR_SCALEOUT_NOT_READY` after `readyTimeout`. Safe to call more than once.
   */
  start(): Promise<void> {
    return (this.#started ??= this.#start());
  }

  async #start(): Promise<void> {
    this.#checkOpen();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const detail = this.#joiner.joining ? `still copying the snapshot (${this.#joiner.received} entries so far)` : 'the transport did not start';
        reject(new NotReadyError(this.nodeId, this.#o.readyTimeout, detail));
      }, this.#o.readyTimeout);
    });
    try {
      await Promise.race([
        (async () => {
          await this.#transport.start();
          const outcome = await this.#joiner.join();
          debug('%s ready (%s) with %d sessions', this.nodeId, outcome, this.#state.live);
        })(),
        timeout,
      ]);
    } catch (err) {
      this.#joiner.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) throw new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the replicated store was closed while starting');
    this.#ready = true;
    this.#sweepTimer = setInterval(() => this.#state.sweep(), 1000);
    this.#sweepTimer.unref();
    this.#scheduleAntiEntropy();
    // Writes published before this node subscribed, or missed by the peer it copied, are found now.
    this.#ae.announce('', true).catch((err) => this.#fail(err));
    this.emit('ready');
  }

  /**
   * Keeps an index of sessions by the value of `userKey`, fed by every change this node applies
   * (its own and its peers'), so `sessionsOf` answers from memory on every node.
   */
  indexUsers(userKey: string): void {
    if (this.#users?.key === userKey) return;
    const users = (this.#users = new LocalUserIndex(userKey));
    const quoted = JSON.stringify(userKey);
    this.#state.onChange = (id, json, expired) => {
      if (json === null) {
        const userId = users.remove(id);
        if (expired) this.emit('expired', id, userId);
        return;
      }
      // Most sessions carry no user: the key's text is looked for before anything is parsed.
      users.update(id, json.includes(quoted) ? decodeSession(json) : undefined);
    };
    for (const id of this.#state.liveIds()) users.update(id, decodeSession(this.#state.peek(id)!.json));
  }

  /** The ids of the user's live sessions on this node (every node holds every session). */
  async sessionsOf(userId: string): Promise<string[]> {
    this.#checkOpen();
    const now = Date.now();
    return (this.#users?.ids(userId) ?? []).filter((id) => {
      const e = this.#state.peek(id);
      return e !== undefined && e.json !== null && e.exp > now;
    });
  }

  async get(id: string): Promise<SessionData | undefined> {
    this.#checkOpen();
    checkSessionId(id);
    const e = this.#state.peek(id);
    if (!e || e.json === null || e.exp <= Date.now()) return undefined;
    return decodeSession(e.json);
  }

  async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new InvalidArgumentError('data', 'session data must be a plain object');
    const old = this.#state.peek(id);
    if (old && old.json === null && old.exp > Date.now()) {
      // Destroyed: a late write must not bring the session back (tombstones win, see compareStates).
      this.#counters.writesAfterDestroy++;
      return;
    }
    return this.#write(id, JSON.stringify(data), ttlMs);
  }

  /**
   * Applies only what a request changed, in one step, and replicates it with a version per key
   * written: concurrent requests that change different keys all keep their change, on one node
   * or on several (same key: the later write wins). Resolves `false` when the session is gone.
   */
  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    if (!patch || typeof patch !== 'object' || patch.set === null || typeof patch.set !== 'object' || Array.isArray(patch.set) || !Array.isArray(patch.unset) || patch.unset.some((k) => typeof k !== 'string')) {
      throw new InvalidArgumentError('patch', 'patch must be { set: plain object, unset: string[] }');
    }
    const now = Date.now();
    const e = this.#state.peek(id);
    const current = e && e.json !== null && e.exp > now ? decodeSession(e.json) : undefined;
    if (!e || !current) return false;
    const json = canonicalJson(applyPatch(current, patch));
    this.#checkSize(json);
    // Only the keys written get the new version: a concurrent patch of other keys on another
    // node merges with this one instead of one replacing the other (see key-versions.ts).
    const v = this.#clock.now();
    const kv = new Map<string, KeyVersion>(e.kv);
    for (const k of Object.keys(patch.set)) kv.set(k, { t: v.t, c: v.c, n: v.n, del: false });
    for (const k of patch.unset) kv.set(k, { t: v.t, c: v.c, n: v.n, del: true });
    this.#state.merge(id, { t: e.t, c: e.c, n: e.n, exp: Math.max(e.exp, this.#expiry(now + ttlMs)), json, kv }, now);
    await this.#outbox.write(id);
    return true;
  }

  #checkSize(json: string): void {
    const limit = this.#o.maxMessageBytes - FRAME_OVERHEAD;
    if (json.length > limit / 3 && Buffer.byteLength(json) > limit) {
      throw new InvalidArgumentError('data', `session of ${Buffer.byteLength(json)} bytes exceeds what one replication frame carries (${limit}); raise cluster.maxMessageBytes`);
    }
  }

  #write(id: string, json: string, ttlMs: number): Promise<void> {
    this.#checkSize(json);
    const now = Date.now();
    const v = this.#clock.now();
    this.#state.merge(id, { t: v.t, c: v.c, n: v.n, exp: this.#expiry(now + ttlMs), json }, now);
    return this.#outbox.write(id);
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const e = this.#state.peek(id);
    if (!e || e.json === null || e.exp <= Date.now()) return;
    // Rounded expiries make repeated touches within one step free: nothing changes, nothing is sent.
    if (!this.#state.extend(id, e, this.#expiry(Date.now() + ttlMs))) return;
    return this.#outbox.touch(id);
  }

  async destroy(id: string): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    const now = Date.now();
    const old = this.#state.peek(id);
    if (old && old.json === null && old.exp > now) return;
    const v = this.#clock.now();
    const exp = this.#expiry(Math.max(old && old.exp > now ? old.exp : 0, now + this.#o.minTombstoneTtl));
    this.#state.merge(id, { t: v.t, c: v.c, n: v.n, exp, json: null }, now);
    return this.#outbox.write(id);
  }

  async *ids(): AsyncIterable<string> {
    this.#checkOpen();
    yield* this.#state.liveIds();
  }

  async size(): Promise<number> {
    this.#checkOpen();
    this.#state.sweep();
    return this.#state.live;
  }

  /** Destroys every session, on every node. */
  async clear(): Promise<void> {
    this.#checkOpen();
    const ids = [...this.#state.liveIds()];
    await Promise.all(ids.map((id) => this.destroy(id)));
  }

  /** A hash of every id, version and expiry held: equal on two nodes exactly when they have converged. */
  digest(): string {
    this.#state.sweep();
    return createHash('sha256').update(this.#state.digest()).digest('hex');
  }

  /** Counters of what this node sent, received, dropped and repaired. */
  stats(): ReplicatedStoreStats {
    const c = this.#counters;
    return {
      ...c,
      dropped: { ...c.dropped },
      nodeId: this.nodeId,
      ready: this.#ready,
      sessions: this.#state.live,
      tombstones: this.#state.tombstones,
      peers: this.#channel.peers(this.#o.antiEntropyInterval * 2),
    };
  }

  /** Runs one anti-entropy round now (it also runs every `antiEntropyInterval`). */
  antiEntropy(): Promise<void> {
    return this.#ae.announce('', true);
  }

  /**
   * Handles one frame from the transport. Public so that transports and tests can feed frames;
   * anything that is not a valid, authentic, fresh frame is dropped and counted, never thrown.
   */
  receive(message: Uint8Array): void {
    if (this.#closed) return;
    const frame = this.#channel.admit(message);
    if (!frame) return;
    if (frame.gap) this.#resync(frame.header.origin);
    try {
      this.#dispatch(frame.header, frame.body);
    } catch (err) {
      if (err instanceof WireError) this.#counters.dropped.malformed++;
      else this.#fail(err);
    }
  }

  #dispatch(h: FrameHeader, r: Reader): void {
    if (this.#joiner.joining && (h.type === MessageType.WRITES || h.type === MessageType.DIGEST)) this.#joiner.found(h.origin);
    switch (h.type) {
      case MessageType.WRITES:
        return this.#outbox.onWrites(r, this.#clock);
      case MessageType.ENTRIES:
        return this.#ae.onEntries(r);
      case MessageType.DIGEST:
        // A joining node's copy is partial by design: comparing it would pull the whole snapshot
        // a second time through repairs. It compares once ready.
        if (this.#ready) this.#ae.onDigest(h.origin, r);
        return;
      case MessageType.SUMMARY:
        return this.#ae.onSummary(h.origin, r);
      case MessageType.WANT:
        return this.#ae.onWant(h.origin, r);
      case MessageType.HELLO:
        if (this.#ready) this.#channel.send(MessageType.HELLO_ACK, helloAckBody(r, this.#state.live), h.origin).catch((err) => this.#fail(err));
        return;
      case MessageType.HELLO_ACK:
        return this.#joiner.onHelloAck(h.origin, r);
      case MessageType.SNAPSHOT_REQUEST:
        if (this.#ready) this.#snapshots.onRequest(h.origin, r);
        return;
      case MessageType.SNAPSHOT_CHUNK:
        return this.#joiner.onChunk(h.origin, r);
      case MessageType.SNAPSHOT_ACK:
        return this.#snapshots.onAck(h.origin, r);
      default:
        this.#counters.dropped.unknownType++;
    }
  }

  #apply(id: string, s: EntryState): void {
    if (id.length === 0 || id.length > 256 || s.n.length === 0) throw new WireError('entry with an invalid id or node');
    this.#clock.observe(s.t, s.c);
    if (s.kv) for (const v of s.kv.values()) this.#clock.observe(v.t, v.c);
    if (this.#state.merge(id, s)) this.#counters.applied++;
  }

  #resync(origin: string): void {
    // One repair per peer in flight: a burst of lost frames starts one exchange, not hundreds.
    if (this.#resyncing.has(origin)) return;
    this.#resyncing.add(origin);
    this.#counters.resyncs++;
    const t = setTimeout(() => this.#resyncing.delete(origin), 250);
    t.unref();
    this.#ae.announce(origin, true).catch((err) => this.#fail(err));
  }

  #duplicateNodeId(incarnation: number): void {
    // Frames under this node's id from another process: both would ignore each other's writes.
    if (this.#otherSelf === incarnation) return;
    this.#otherSelf = incarnation;
    this.#fail(new ScaleoutError(ErrorCodes.CONFIG, `another process uses nodeId "${this.nodeId}": node ids must be unique in a cluster`));
  }

  #transportDown(err?: unknown): void {
    debug('%s: transport down: %s', this.nodeId, (err as Error)?.message ?? '');
    this.emit('transport-down', err);
  }

  #transportUp(): void {
    debug('%s: transport up: resyncing', this.nodeId);
    this.emit('transport-up');
    if (!this.#ready || this.#closed) return;
    this.#counters.resyncs++;
    this.#ae.announce('', true).catch((err) => this.#fail(err));
  }

  #scheduleAntiEntropy(): void {
    const base = this.#o.antiEntropyInterval;
    // Jitter keeps the nodes' digests from arriving in lockstep.
    this.#aeTimer = setTimeout(() => {
      if (this.#closed) return;
      this.#ae.announce().catch((err) => this.#fail(err));
      this.#scheduleAntiEntropy();
    }, base * (0.8 + Math.random() * 0.4));
    this.#aeTimer.unref();
  }

  #expiry(at: number): number {
    const step = this.#o.expiryResolution;
    return Math.ceil(at / step) * step;
  }

  #fail(err: unknown): void {
    debug('%s: %s', this.nodeId, (err as Error)?.message ?? String(err));
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the replicated store is closed');
  }

  /** Sends what is queued, stops timers and closes the transport. Safe to call twice. */
  close(): Promise<void> {
    return (this.#closed ??= this.#close());
  }

  async #close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#aeTimer);
    this.#joiner.close(new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the replicated store was closed while joining'));
    this.#snapshots.close();
    await this.#outbox.drain().catch(() => undefined);
    this.#channel.shut();
    this.#transport.off('message', this.#onMessage);
    this.#transport.off('down', this.#onDown);
    this.#transport.off('up', this.#onUp);
    await this.#transport.close();
    this.#state.reset();
  }

  /** Closes the store, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
