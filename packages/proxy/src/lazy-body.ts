import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

// Bytes a client must send within `timeouts.body` for its upload to count as moving.
const BODY_PROGRESS = 1024;

/** Who a request body is waiting on: the client to send more, or the node to read more. */
export type Waiting = 'client' | 'node';

/**
 * The request body as the node's connection reads it. The client's stream is only touched once
 * undici starts writing the body, which it does after the connection is up: so a connect
 * failure leaves the body unread and the request can go to another node. Destroying this
 * wrapper (undici does on errors) detaches it without closing the client's connection.
 *
 * While it streams, one timer watches whichever side the body is waiting on: the client
 * (`timeouts.body`, as nginx `client_body_timeout`) or the node, which stopped reading
 * (`timeouts.server`). `onStall` says which one went quiet, so the right one is blamed.
 * A client only counts as sending once it has brought `BODY_PROGRESS` bytes since the timer was
 * last set (as Apache `RequestReadTimeout body=…,MinRate=…`): a trickle of one byte a second
 * would hold a node's connection for ever under a plain idle timer.
 */
export class LazyBody extends Readable {
  started = false;
  readonly #src: IncomingMessage;
  readonly #limits: Record<Waiting, number>;
  readonly #onStall: (who: Waiting) => void;
  #waiting: Waiting | undefined;
  #timer: NodeJS.Timeout | undefined;
  #progress = 0;
  readonly #onData = (chunk: Buffer) => {
    this.#progress += chunk.length;
    if (this.push(chunk)) {
      if (this.#progress >= BODY_PROGRESS) this.#wait('client');
      return;
    }
    this.#src.pause();
    this.#wait('node');
  };
  readonly #onEnd = () => {
    this.#stop();
    this.push(null);
  };
  readonly #onError = (err: Error) => this.destroy(err);

  constructor(src: IncomingMessage, limits: Record<Waiting, number>, onStall: (who: Waiting) => void) {
    super();
    this.#src = src;
    this.#limits = limits;
    this.#onStall = onStall;
  }

  #wait(who: Waiting): void {
    this.#progress = 0;
    if (this.#waiting === who) return void this.#timer!.refresh();
    clearTimeout(this.#timer);
    this.#waiting = who;
    this.#timer = setTimeout(() => this.#onStall(who), this.#limits[who]);
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#waiting = undefined;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.#src.on('data', this.#onData).once('end', this.#onEnd).once('error', this.#onError);
    }
    if (this.#src.readableEnded) return;
    if (this.#waiting !== 'client') this.#wait('client'); // not on every read: a trickle must not refresh it
    this.#src.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#stop();
    this.#src.off('data', this.#onData).off('end', this.#onEnd).off('error', this.#onError);
    cb(err);
  }
}
