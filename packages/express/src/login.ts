import type { LoginOptions } from '@scaleout/core';
import { attach, kState, type ExpressSession } from './express-session-object.js';

type Req = { session?: unknown; sessionID?: unknown };

function stateOf(req: Req, what: string) {
  const state = (req?.session as ExpressSession | undefined)?.[kState];
  if (!state) throw new TypeError(`${what}: req.session is missing; is the session middleware of @scaleout/express installed?`);
  return state;
}

/**
 * Logs a user in: a new session id (the old one is destroyed, so a fixated id is worthless),
 * the data kept, `userId` under the config's `session.userKey`, and `meta` (at most 1 KB) for
 * `strategy.sessions.byUser()`. Rejects with `ERR_SCALEOUT_INVALID_ARGUMENT` for a user id that is
 * not a string of 1 to 256 characters or a `meta` that is not a small plain object.
 */
export async function login(req: Req, userId: string, options: LoginOptions = {}): Promise<void> {
  const state = stateOf(req, 'login');
  await state.login(userId, options);
  attach(req, state);
}

/** Logs out: destroys the session in the store and clears its cookie. */
export async function logout(req: Req): Promise<void> {
  const state = stateOf(req, 'logout');
  delete req.session;
  await state.destroy(true);
}
