import { dressSession, type SessionBinding, type SessionData, type SessionState } from '@scaleout/core';

/** Where a session object keeps its engine state (a symbol: never a session key, never serialized). */
export const kState = Symbol('scaleout.session');

type Callback = (err?: unknown) => void;
type Req = { session?: unknown; sessionID?: unknown };

function settle(p: Promise<void>, then: () => void, cb: Callback | undefined): void {
  p.then(
    () => {
      then();
      cb?.();
    },
    (err: unknown) => (cb ? cb(err) : undefined),
  );
}

/** Points `req.session` and `req.sessionID` at the state's current session object. */
export function attach(req: Req, state: SessionState): void {
  if (state.data) req.session = state.data;
  else delete req.session;
  req.sessionID = state.id;
}

/**
 * `req.session`, with express-session's `Session` API: own keys are the session's data (and
 * `cookie`), the methods and `id` live on the prototype, callbacks as express-session has them.
 */
export class ExpressSession {
  /** The engine's state of this request's session, behind a symbol so it is never one of the session's keys. @internal */
  declare [kState]: SessionState;
  /** The session cookie, express-session's `req.session.cookie`. */
  declare cookie: SessionState['cookie'];

  /** The session id (`req.sessionID`). */
  get id(): string {
    return this[kState].id;
  }

  /** The request the session belongs to. */
  get req(): unknown {
    return this[kState].io.req;
  }

  /** A new id, an empty session; the old id is destroyed in the store. */
  regenerate(cb?: Callback): this {
    const state = this[kState];
    settle(state.regenerate(false), () => attach(state.io.req as Req, state), cb);
    return this;
  }

  /** Removes the session from the store and from `req`. */
  destroy(cb?: Callback): this {
    const state = this[kState];
    const req = state.io.req as Req;
    delete req.session;
    settle(state.destroy(), () => undefined, cb);
    return this;
  }

  /** Reads the session again from the store. */
  reload(cb?: Callback): this {
    const state = this[kState];
    settle(state.reload(), () => attach(state.io.req as Req, state), cb);
    return this;
  }

  /** Writes the session to the store now (it is also saved when the response starts, if changed). */
  save(cb?: Callback): this {
    settle(this[kState].save(), () => undefined, cb);
    return this;
  }

  /** Starts the cookie's lifetime again; the stored expiry is written when the response starts. */
  touch(): this {
    this.cookie.resetMaxAge();
    // The stored expiry moves too when the response starts, not only the cookie's.
    this[kState].touched = true;
    return this;
  }

  /** Same as `touch()`. */
  resetMaxAge(): this {
    return this.touch();
  }
}

/** How the engine dresses an Express session. */
export const expressBinding: SessionBinding = {
  wrap(state: SessionState, data: SessionData): SessionData {
    const s = dressSession(ExpressSession.prototype, kState, state, data);
    s.cookie = state.cookie;
    return s;
  },
  isDataKey: (k) => k !== 'cookie',
};
