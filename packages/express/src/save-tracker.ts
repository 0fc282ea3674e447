import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionSnapshot } from '@scaleout/core';

// express-session writes the status line and most of the body before its save finishes
// (index.js `writetop`), so a failed save would still reach the client as a 200. The tracker
// holds the response while a save of this request is in flight and turns a failed save into
// a 503 before a byte has left.

const kTracker = Symbol('scaleout.saveTracker');

type Held = { kind: 'head'; args: unknown[] } | { kind: 'write'; args: unknown[] };

/** Holds one response while session writes of its request are pending. */
export class SaveTracker {
  pending = 0;
  failure: unknown;
  /** Set once the tracker has answered with its own 503. */
  answered = false;
  readonly #res: ServerResponse;
  readonly #held: Held[] = [];
  #endArgs: unknown[] | undefined;
  readonly #writeHead: ServerResponse['writeHead'];
  readonly #write: ServerResponse['write'];
  readonly #end: ServerResponse['end'];
  readonly #onFailure: (res: ServerResponse, err: unknown) => void;

  constructor(req: IncomingMessage, res: ServerResponse, onFailure: (res: ServerResponse, err: unknown) => void) {
    this.#res = res;
    this.#onFailure = onFailure;
    (req as unknown as Record<symbol, SaveTracker>)[kTracker] = this;
    this.#writeHead = res.writeHead;
    this.#write = res.write;
    this.#end = res.end;
    const self = this;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (self.pending === 0 && self.#held.length === 0) return (self.#writeHead as (...a: unknown[]) => ServerResponse).apply(res, args);
      self.#held.push({ kind: 'head', args });
      return res;
    } as ServerResponse['writeHead'];
    res.write = function (...args: unknown[]) {
      if (self.pending === 0 && self.#held.length === 0) return (self.#write as (...a: unknown[]) => boolean).apply(res, args);
      self.#held.push({ kind: 'write', args });
      return true;
    } as ServerResponse['write'];
    res.end = function (...args: unknown[]) {
      self.#endArgs = args;
      self.#flush();
      return res;
    } as ServerResponse['end'];
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
      this.#flush();
    };
  }

  #flush(): void {
    if (this.pending > 0 || this.#endArgs === undefined) return;
    const res = this.#res;
    this.#restore();
    if (this.failure !== undefined && !res.headersSent) {
      this.answered = true;
      this.#held.length = 0;
      this.#onFailure(res, this.failure);
      return;
    }
    for (const h of this.#held.splice(0)) {
      if (h.kind === 'head') (res.writeHead as (...a: unknown[]) => unknown)(...h.args);
      else (res.write as (...a: unknown[]) => unknown)(...h.args);
    }
    (res.end as (...a: unknown[]) => unknown)(...this.#endArgs);
  }

  #restore(): void {
    this.#res.writeHead = this.#writeHead;
    this.#res.write = this.#write;
    this.#res.end = this.#end;
  }
}

const kSnapshot = Symbol('scaleout.loadedSnapshot');

/** A request's session as it was loaded, key by key, for saving only what changed. */
export interface LoadedSnapshot {
  id: string;
  fields: SessionSnapshot;
}

/** Records what the request loaded. */
export function rememberLoaded(req: IncomingMessage, snapshot: LoadedSnapshot): void {
  (req as unknown as Record<symbol, LoadedSnapshot>)[kSnapshot] = snapshot;
}

/** What the request a session belongs to loaded, if it loaded it from the store. */
export function loadedOf(sess: unknown): LoadedSnapshot | undefined {
  const req = (sess as { req?: unknown } | undefined)?.req as Record<symbol, LoadedSnapshot> | undefined;
  return req?.[kSnapshot];
}

const kNoStore = Symbol('scaleout.noStore');

/** Marks a request whose session must not be stored (its cookie cannot reach the client). */
export function skipStoring(req: IncomingMessage): void {
  (req as unknown as Record<symbol, boolean>)[kNoStore] = true;
}

/** True when the request a session belongs to must not store it. */
export function storingSkipped(sess: unknown): boolean {
  const req = (sess as { req?: unknown } | undefined)?.req as Record<symbol, boolean> | undefined;
  return req?.[kNoStore] === true;
}

/** The tracker of the request a session belongs to (express-session keeps `req` on the session). */
export function trackerOf(sess: unknown): SaveTracker | undefined {
  const req = (sess as { req?: unknown } | undefined)?.req as Record<symbol, SaveTracker> | undefined;
  return req?.[kTracker];
}
