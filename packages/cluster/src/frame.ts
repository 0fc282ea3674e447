import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Reader, WireError, Writer } from './wire.js';

/** First byte of every frame ('S'), then the protocol version. */
const MAGIC = 0x53;
const PROTOCOL = 1;
const MAC_BYTES = 32;
/** Magic, protocol, type, flags, key fingerprint. */
const PREFIX_BYTES = 8;
/** Smallest possible frame: prefix, empty header strings, numbers, MAC. */
export const MIN_FRAME_BYTES = PREFIX_BYTES + 1 + 8 + 8 + 8 + 1 + 8 + MAC_BYTES;

// The cluster secret also signs session cookies and route tags: replication keys are derived
// under their own label, so a MAC from one use can never be passed off as another.
const KEY_LABEL = 'scaleout/cluster/frame-mac/v1';

/** Who sent a frame and where it sits in the sender's stream. */
export interface FrameHeader {
  /** What the frame carries: one of {@link MessageType}. */
  type: number;
  /** The sending node's id. */
  origin: string;
  /** The sender's incarnation: its start time, so a restarted node starts a new stream. */
  incarnation: number;
  /** The sender's frame counter, one up per frame sent. */
  seq: number;
  /** `seq` of the sender's previous broadcast frame (0 if none): a mismatch reveals a gap. */
  prev: number;
  /** The one node this frame is for, or `''` for every node. */
  to: string;
  /** The sender's wall clock when it sent the frame. */
  ts: number;
}

/** A received frame split into its parts; the MAC is not checked yet. */
export interface ParsedFrame {
  header: FrameHeader;
  fingerprint: number;
  /** Where the body starts and ends in `bytes`. */
  bodyStart: number;
  bodyEnd: number;
  bytes: Buffer;
}

interface Key {
  key: Buffer;
  fingerprint: number;
}

/**
 * Signs and verifies replication frames with HMAC-SHA256 over the whole frame. Secrets rotate as
 * everywhere in scaleout: the first signs, all verify; a 4-byte fingerprint of the derived key
 * picks the verifying key without trying each.
 */
export class FrameCodec {
  readonly #keys: Key[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new TypeError('at least one secret is needed');
    this.#keys = secrets.map((s) => {
      const key = createHmac('sha256', s).update(KEY_LABEL).digest();
      return { key, fingerprint: createHash('sha256').update(key).digest().readUInt32BE(0) };
    });
  }

  /** Builds a signed frame. */
  encode(header: FrameHeader, body: Uint8Array): Buffer {
    const signer = this.#keys[0]!;
    const w = new Writer(64 + body.length + MAC_BYTES);
    w.u8(MAGIC).u8(PROTOCOL).u8(header.type).u8(0).u32(signer.fingerprint);
    w.str8(header.origin).f64(header.incarnation).f64(header.seq).f64(header.prev).str8(header.to).f64(header.ts);
    w.bytes(body);
    w.bytes(createHmac('sha256', signer.key).update(w.finish()).digest());
    return w.finish();
  }

  /** Splits a frame into header and body bounds. Throws `WireError` on a malformed frame. */
  parse(message: Uint8Array): ParsedFrame {
    const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (bytes.length < MIN_FRAME_BYTES) throw new WireError(`frame of ${bytes.length} bytes is shorter than any valid frame`);
    const r = new Reader(bytes, 0, bytes.length - MAC_BYTES);
    if (r.u8() !== MAGIC) throw new WireError('not a scaleout frame');
    if (r.u8() !== PROTOCOL) throw new WireError('unsupported protocol version');
    const type = r.u8();
    r.u8();
    const fingerprint = r.u32();
    const header: FrameHeader = { type, origin: r.str8(), incarnation: r.f64(), seq: r.f64(), prev: r.f64(), to: r.str8(), ts: r.f64() };
    return { header, fingerprint, bodyStart: r.position, bodyEnd: bytes.length - MAC_BYTES, bytes };
  }

  /** True when the frame's MAC verifies under one of the secrets. */
  verify(frame: ParsedFrame): boolean {
    const key = this.#keys.find((k) => k.fingerprint === frame.fingerprint);
    if (!key) return false;
    const expected = createHmac('sha256', key.key).update(frame.bytes.subarray(0, frame.bodyEnd)).digest();
    return timingSafeEqual(expected, frame.bytes.subarray(frame.bodyEnd));
  }
}
