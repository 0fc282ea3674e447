import { StoreUnavailableError, type Transport } from '@scaleout/core';
import { FrameCodec, type FrameHeader } from './frame.js';
import type { ReplicationCounters } from './node-link.js';
import { PeerTracker } from './peer-tracker.js';
import { Reader } from './wire.js';

/** A frame that passed every check, ready for its handler. */
export interface AdmittedFrame {
  header: FrameHeader;
  body: Reader;
  /** Frames from this sender were lost before this one. */
  gap: boolean;
}

export interface FrameChannelOptions {
  nodeId: string;
  secret: readonly string[];
  transport: Transport;
  counters: ReplicationCounters;
  maxMessageBytes: number;
  replayWindowMs: number;
  /** Called when frames under this node's id come from another process. */
  onDuplicateNodeId: (incarnation: number) => void;
}

/**
 * One node's end of the replication channel: numbers, signs and publishes outgoing frames, and
 * checks incoming ones — size and layout, then the MAC before anything the frame says about
 * itself, then sender, address, freshness and place in the sender's stream — counting every
 * refusal. The MAC comes first even though it costs more than reading the sender: a frame that
 * claims this node's own id must not raise "another process uses this nodeId" unless someone
 * with the secret signed it, or anyone who can publish on the channel could raise that error.
 */
export class FrameChannel {
  /** This process's incarnation: its start time in µs plus noise, so a restart is newer. */
  readonly incarnation = Date.now() * 1000 + Math.floor(Math.random() * 1000);
  readonly #o: FrameChannelOptions;
  readonly #codec: FrameCodec;
  readonly #tracker: PeerTracker;
  #seq = 0;
  #lastBroadcast = 0;
  #shut = false;

  constructor(options: FrameChannelOptions) {
    this.#o = options;
    this.#codec = new FrameCodec(options.secret);
    this.#tracker = new PeerTracker(options.replayWindowMs);
  }

  /**
   * Signs and publishes. Header, counter and publish happen in one synchronous step, so frames
   * reach the transport in counter order and the receivers' gap check holds.
   */
  send(type: number, body: Buffer, to: string): Promise<void> {
    if (this.#shut) return Promise.resolve();
    const seq = ++this.#seq;
    const prev = this.#lastBroadcast;
    if (to === '') this.#lastBroadcast = seq;
    const { nodeId, counters, transport } = this.#o;
    const frame = this.#codec.encode({ type, origin: nodeId, incarnation: this.incarnation, seq, prev, to, ts: Date.now() }, body);
    counters.framesSent++;
    counters.bytesSent += frame.length;
    const failed = (err: unknown) => {
      counters.publishFailures++;
      throw new StoreUnavailableError(`replication publish failed on node ${nodeId}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    };
    try {
      return transport.publish(frame, to === '' ? undefined : to).catch(failed);
    } catch (err) {
      // A transport that throws instead of rejecting must not take the event loop down.
      return Promise.reject(err).catch(failed);
    }
  }

  /** Sends nothing more (frames asked for afterwards are dropped silently). */
  shut(): void {
    this.#shut = true;
  }

  /** The frame if it may be handled, or `undefined` (dropped, and counted unless merely not ours). */
  admit(message: Uint8Array): AdmittedFrame | undefined {
    const { counters: c, nodeId } = this.#o;
    c.framesReceived++;
    if (!(message instanceof Uint8Array)) {
      c.dropped.malformed++;
      return undefined;
    }
    c.bytesReceived += message.length;
    if (message.length > this.#o.maxMessageBytes) {
      c.dropped.oversized++;
      return undefined;
    }
    let frame;
    try {
      frame = this.#codec.parse(message);
    } catch {
      c.dropped.malformed++;
      return undefined;
    }
    if (!this.#codec.verify(frame)) {
      c.dropped.forged++;
      return undefined;
    }
    const h = frame.header;
    if (h.origin === nodeId) {
      // Our own broadcast echoed back by the transport, or a second process under our id.
      if (h.incarnation !== this.incarnation) this.#o.onDuplicateNodeId(h.incarnation);
      return undefined;
    }
    if (h.to !== '' && h.to !== nodeId) return undefined;
    const verdict = this.#tracker.check(h);
    if (verdict === 'replay') {
      c.dropped.replayed++;
      return undefined;
    }
    if (verdict === 'gap') c.gaps++;
    return { header: h, body: new Reader(frame.bytes, frame.bodyStart, frame.bodyEnd), gap: verdict === 'gap' };
  }

  /** Peers heard from within `withinMs`. */
  peers(withinMs: number): string[] {
    return this.#tracker.peers(withinMs);
  }
}
