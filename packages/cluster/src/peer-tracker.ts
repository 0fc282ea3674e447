import type { FrameHeader } from './frame.js';

/** What the tracker makes of a verified frame's place in its sender's stream. */
export type StreamVerdict = 'ok' | 'gap' | 'replay';

interface Stream {
  incarnation: number;
  /** Highest frame counter accepted from this incarnation. */
  seq: number;
  /** Counter of the last broadcast frame accepted. */
  broadcast: number;
  /** When a frame last came from this peer. */
  seen: number;
}

/**
 * Follows each peer's frame stream. A frame at or below the last counter, from an older
 * incarnation, or stamped outside the replay window is a replay. A broadcast frame whose `prev`
 * is not the last broadcast seen means frames were lost in between: a gap.
 */
export class PeerTracker {
  readonly #streams = new Map<string, Stream>();
  readonly #replayWindowMs: number;

  constructor(replayWindowMs: number) {
    this.#replayWindowMs = replayWindowMs;
  }

  check(h: FrameHeader, now = Date.now()): StreamVerdict {
    if (Math.abs(now - h.ts) > this.#replayWindowMs) return 'replay';
    const s = this.#streams.get(h.origin);
    const broadcast = h.to === '';
    if (!s || h.incarnation > s.incarnation) {
      // First frame of a peer, or of a restarted peer: nothing to compare it to yet.
      this.#streams.set(h.origin, { incarnation: h.incarnation, seq: h.seq, broadcast: broadcast ? h.seq : h.prev, seen: now });
      return 'ok';
    }
    if (h.incarnation < s.incarnation || h.seq <= s.seq) return 'replay';
    s.seq = h.seq;
    s.seen = now;
    // A directed frame also carries the sender's last broadcast: frames are delivered in the
    // order sent, so a mismatch here is a lost broadcast too.
    const gap = h.prev !== s.broadcast;
    s.broadcast = broadcast ? h.seq : h.prev;
    return gap ? 'gap' : 'ok';
  }

  /** Peers heard from within `withinMs`. */
  peers(withinMs: number, now = Date.now()): string[] {
    const out: string[] = [];
    for (const [id, s] of this.#streams) if (now - s.seen <= withinMs) out.push(id);
    return out;
  }

  forget(origin: string): void {
    this.#streams.delete(origin);
  }
}
