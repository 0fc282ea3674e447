import { InvalidArgumentError, parseDuration, type Duration, type Transport } from '@scaleout/core';

/** Options of {@link ReplicatedStore}. */
export interface ReplicatedStoreOptions {
  /** This node's id: unique in the cluster, the last tie-break between concurrent writes. */
  nodeId: string;
  /** Cluster secrets, newest first: the first signs frames, all verify. */
  secret: string | readonly string[];
  /** What carries frames between nodes. The store starts and closes it. */
  transport: Transport;
  /**
   * Longest `start()` waits for a snapshot before failing with `ERR_SCALEOUT_NOT_READY`.
   * @default "30s"
   */
  readyTimeout?: Duration;
  /**
   * How long a new node waits for a peer to answer before it takes itself for the first node.
   * @default "500ms"
   */
  discoveryWait?: Duration;
  /**
   * How often each node broadcasts its digest so peers find and repair divergence.
   * @default "10s"
   */
  antiEntropyInterval?: Duration;
  /**
   * Largest frame sent or accepted, in bytes. Larger incoming frames are dropped and counted.
   * @default 4194304
   */
  maxMessageBytes?: number;
  /**
   * Expiries are rounded up to this step, so touches within one step cost nothing to replicate.
   * @default "1s"
   */
  expiryResolution?: Duration;
  /**
   * Shortest life of a tombstone, for sessions destroyed before this node saw them.
   * @default "1m"
   */
  minTombstoneTtl?: Duration;
  /**
   * Frames stamped further than this from the receiver's clock are refused as replays.
   * @default "5m"
   */
  replayWindow?: Duration;
}

/** Defaults of {@link ReplicatedStoreOptions}. */
export const DEFAULT_REPLICATED_STORE_OPTIONS = {
  /** 30 s. */
  readyTimeout: 30_000,
  /** 500 ms. */
  discoveryWait: 500,
  /** 10 s. */
  antiEntropyInterval: 10_000,
  /** 4 MiB. */
  maxMessageBytes: 4 * 1024 * 1024,
  /** 1 s. */
  expiryResolution: 1000,
  /** 60 s. */
  minTombstoneTtl: 60_000,
  /** 5 minutes. */
  replayWindow: 5 * 60_000,
} as const;

/** Options with every default applied and every duration in ms. */
export interface ResolvedOptions {
  /** This node's id. */
  nodeId: string;
  /** The frame-signing secrets, newest first: the first signs, all verify. */
  secret: string[];
  /** The transport the nodes replicate over. */
  transport: Transport;
  /** `readyTimeout` in ms. */
  readyTimeout: number;
  /** `discoveryWait` in ms. */
  discoveryWait: number;
  /** `antiEntropyInterval` in ms. */
  antiEntropyInterval: number;
  /** `maxMessageBytes`. */
  maxMessageBytes: number;
  /** `expiryResolution` in ms. */
  expiryResolution: number;
  /** `minTombstoneTtl` in ms. */
  minTombstoneTtl: number;
  /** `replayWindow` in ms. */
  replayWindow: number;
}

function ms(value: Duration | undefined, fallback: number, field: string, min: number): number {
  const v = value === undefined ? fallback : parseDuration(value, field);
  if (!(v >= min)) throw new InvalidArgumentError(field, `${field} must be at least ${min} ms, got ${String(value)}`);
  return v;
}

/** Validates options, naming the field, the value and what is allowed. */
export function resolveOptions(o: ReplicatedStoreOptions): ResolvedOptions {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError('options', 'ReplicatedStore needs an options object');
  if (typeof o.nodeId !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(o.nodeId)) {
    throw new InvalidArgumentError('nodeId', `nodeId must be 1 to 128 letters, digits or . _ : -, got ${JSON.stringify(o.nodeId)}`);
  }
  const secret = typeof o.secret === 'string' ? [o.secret] : Array.isArray(o.secret) ? [...o.secret] : [];
  if (secret.length === 0 || secret.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new InvalidArgumentError('secret', 'secret must be a non-empty string or a non-empty array of non-empty strings, newest first');
  }
  const t = o.transport as Partial<Transport> | undefined;
  if (!t || typeof t.publish !== 'function' || typeof t.start !== 'function' || typeof t.on !== 'function') {
    throw new InvalidArgumentError('transport', 'transport must implement the Transport interface (start, publish, close, events)');
  }
  const d = DEFAULT_REPLICATED_STORE_OPTIONS;
  const maxMessageBytes = o.maxMessageBytes ?? d.maxMessageBytes;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 16 * 1024) {
    throw new InvalidArgumentError('maxMessageBytes', `maxMessageBytes must be a whole number >= 16384, got ${String(o.maxMessageBytes)}`);
  }
  return {
    nodeId: o.nodeId,
    secret,
    transport: o.transport,
    readyTimeout: ms(o.readyTimeout, d.readyTimeout, 'readyTimeout', 1),
    discoveryWait: ms(o.discoveryWait, d.discoveryWait, 'discoveryWait', 1),
    antiEntropyInterval: ms(o.antiEntropyInterval, d.antiEntropyInterval, 'antiEntropyInterval', 50),
    maxMessageBytes,
    expiryResolution: ms(o.expiryResolution, d.expiryResolution, 'expiryResolution', 1),
    minTombstoneTtl: ms(o.minTombstoneTtl, d.minTombstoneTtl, 'minTombstoneTtl', 1000),
    replayWindow: ms(o.replayWindow, d.replayWindow, 'replayWindow', 1000),
  };
}
