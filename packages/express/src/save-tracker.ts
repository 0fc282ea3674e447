import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionSnapshot } from '@scaleout/core';

// express-session writes the status line and most of the body before its save finishes
// (index.js `writetop`), so a failed save would still reach the client as a 200. The tracker
// holds the response while a save of this request is in flight and turns a failed save into
// a 503 before a byte has left. It is on the hot path of every request: the wrappers below are
// shared by all responses and find their tracker through one symbol; an idle tracker passes
// every call straight through.

const kTracker = Symbol('scaleout.requestState');

type Fn = (...args: unknown[]) => unknown;
type Held = { head: boolean; args: unknown[] };

/** A request's session as it was loaded, key by key, for saving only what changed. */
export interface LoadedSnapshot {
  id: string;
  fields: SessionSnapshot;
}

function stateOf(target: unknown): SaveTracker | undefined {
  return (target as Record<symbol, SaveTracker | undefined> | undefined)?.[kTracker];
}

function writeHead(this: ServerResponse, ...args: unknown[]): unknown {
  const t = stateOf(this)!;
  if (t.idle) return (t.originals[0] as Fn).apply(this, args);
  t.held.push({ head: true, args });
  return this;
}

function write(this: ServerResponse, ...args: unknown[]): unknown {
  const t = stateOf(this)!;
  if (t.idle) return (t.originals[1] as Fn).apply(this, args);
  t.held.push({ head: false, args });
  return true;
}

function end(this: ServerResponse, ...args: unknown[]): unknown {
  const t = stateOf(this)!;
  t.endArgs = args;
  t.flush();
  return this;
}

/** Per-request state of the Express layer: pending saves, the held response, what was loaded. */
export class SaveTracker {
  pending = 0;
  failure: unknown;
  /** Set once the tracker has answered with its own 503. */
  answered = false;
  /** What the request loaded from the store, if it loaded its session. */
  loaded: LoadedSnapshot | undefined;
  /** The session's cookie cannot reach the client (secure cookie on plain HTTP): store nothing. */
  noStore = false;
  /** Called once the response has been sent (or answered 503) after every save: frees the lock. */
  onSettled: (() => void) | undefined;
  readonly held: Held[] = [];
  endArgs: unknown[] | undefined;
  /** The response's own writeHead, write and end, as they were before the tracker. */
  readonly originals: readonly [unknown, unknown, unknown];
  readonly #res: ServerResponse;
  readonly #onFailure: (res: ServerResponse, err: unknown) => void;

  constructor(req: IncomingMessage, res: ServerResponse, onFailure: (res: ServerResponse, err: unknown) => void) {
    this.#res = res;
    this.#onFailure = onFailure;
    this.originals = [res.writeHead, res.write, res.end];
    (req as unknown as Record<symbol, SaveTracker>)[kTracker] = this;
    (res as unknown as Record<symbol, SaveTracker>)[kTracker] = this;
    res.writeHead = writeHead as ServerResponse['writeHead'];
    res.write = write as ServerResponse['write'];
    res.end = end as ServerResponse['end'];
  }

  /** True when nothing is held or pending: calls pass straight through. */
  get idle(): boolean {
    return this.pending === 0 && this.held.length === 0;
  }

  /** Marks a write in flight; the returned function records its outcome. */
  begin(): (err?: unknown) => void {
    this.pending++;
    let done = false;
    return (err) => {
      if (done) return;
      done = true;
      this.pending--;
      if (err && this.failure === undefined) this.failure = err;
      this.flush();
    };
  }

  /** Sends what was held (or the 503) once the response has ended and no save is pending. */
  flush(): void {
    if (this.pending > 0 || this.endArgs === undefined) return;
    const res = this.#res;
    const [head, body, finish] = this.originals as [Fn, Fn, Fn];
    if (this.failure !== undefined && !res.headersSent) {
      this.answered = true;
      this.held.length = 0;
      res.writeHead = head as ServerResponse['writeHead'];
      res.write = body as ServerResponse['write'];
      res.end = finish as ServerResponse['end'];
      this.#onFailure(res, this.failure);
      this.onSettled?.();
      return;
    }
    for (const h of this.held.splice(0)) (h.head ? head : body).apply(res, h.args);
    finish.apply(res, this.endArgs);
    this.onSettled?.();
  }
}

/** The per-request state of a request (for the layer's own middleware). */
export function trackerOfRequest(req: IncomingMessage): SaveTracker | undefined {
  return stateOf(req);
}

/** The tracker of the request a session belongs to (express-session keeps `req` on the session). */
export function trackerOf(sess: unknown): SaveTracker | undefined {
  return stateOf((sess as { req?: unknown } | undefined)?.req);
}
