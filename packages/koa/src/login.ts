import type Koa from 'koa';
import type { LoginOptions } from '@scaleout/core';
import { kState, type KoaSession } from './koa-session-object.js';

function stateOf(ctx: Koa.Context, what: string) {
  const state = (ctx?.session as unknown as KoaSession | null)?.[kState];
  if (!state) throw new TypeError(`${what}: ctx.session is missing; is the session middleware of @scaleout/koa installed?`);
  return state;
}

/**
 * Logs a user in: a new session id (the old one is destroyed, so a fixated id is worthless),
 * the data kept, `userId` under the config's `session.userKey`, and `meta` (at most 1 KB) for
 * `strategy.sessions.byUser()`. Rejects with `ERR_SCALEOUT_INVALID_ARGUMENT` for a user id that is
 * not a string of 1 to 256 characters or a `meta` that is not a small plain object.
 */
export async function login(ctx: Koa.Context, userId: string, options: LoginOptions = {}): Promise<void> {
  await stateOf(ctx, 'login').login(userId, options);
}

/** Logs out: destroys the session in the store and clears its cookie. */
export async function logout(ctx: Koa.Context): Promise<void> {
  await stateOf(ctx, 'logout').destroy(true);
}
