// Bounds-checked binary reading and writing for replication frames. Every read checks the
// remaining length first, so a truncated or lying frame throws `WireError` (caught and counted
// by the receiver) instead of reading past the end or allocating what the frame claims.

/** A frame's bytes do not match the layout they claim. */
export class WireError extends Error {
  override name = 'WireError';
}

/** Appends fields to a growing buffer. */
export class Writer {
  #buf: Buffer;
  #pos = 0;

  constructor(initial = 256) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.#pos;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#buf.writeUInt16BE(v, this.#pos);
    this.#pos += 2;
    return this;
  }

  u32(v: number): this {
    this.#room(4);
    this.#buf.writeUInt32BE(v >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  f64(v: number): this {
    this.#room(8);
    this.#buf.writeDoubleBE(v, this.#pos);
    this.#pos += 8;
    return this;
  }

  /** A string of at most 255 UTF-8 bytes (node ids). */
  str8(s: string): this {
    const n = Buffer.byteLength(s);
    if (n > 255) throw new WireError(`string of ${n} bytes does not fit a str8`);
    this.u8(n);
    this.#room(n);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
    return this;
  }

  /** A string of at most 65,535 UTF-8 bytes (session ids). */
  str16(s: string): this {
    const n = Buffer.byteLength(s);
    if (n > 0xffff) throw new WireError(`string of ${n} bytes does not fit a str16`);
    this.u16(n);
    this.#room(n);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
    return this;
  }

  /** A string of any length (session values). */
  str32(s: string): this {
    const n = Buffer.byteLength(s);
    this.u32(n);
    this.#room(n);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** The bytes written so far (a view, not a copy). */
  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Reads fields from a frame, refusing to read past its end. */
export class Reader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = start;
    this.#end = end;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#end) throw new WireError(`frame truncated: need ${n} bytes at ${this.#pos}, ${this.remaining} left`);
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  f64(): number {
    this.#need(8);
    const v = this.#buf.readDoubleBE(this.#pos);
    this.#pos += 8;
    if (!Number.isFinite(v)) throw new WireError('frame holds a non-finite number');
    return v;
  }

  #text(n: number): string {
    this.#need(n);
    // Invalid UTF-8 becomes U+FFFD: a garbled value then reads as no session, never as an error.
    const s = this.#buf.toString('utf8', this.#pos, this.#pos + n);
    this.#pos += n;
    return s;
  }

  str8(): string {
    return this.#text(this.u8());
  }

  str16(): string {
    return this.#text(this.u16());
  }

  str32(): string {
    return this.#text(this.u32());
  }

  /** A count of items that each take at least `minBytes`: refuses counts the frame cannot hold. */
  count(minBytes: number): number {
    const n = this.u32();
    if (n * minBytes > this.remaining) throw new WireError(`frame claims ${n} items but holds ${this.remaining} bytes`);
    return n;
  }

  end(): void {
    if (this.#pos !== this.#end) throw new WireError(`${this.#end - this.#pos} unexpected bytes after the body`);
  }
}
