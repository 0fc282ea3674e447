import type Koa from 'koa';
import { kState, type KoaSession } from './koa-session-object.js';

/** Options of {@link regenerate}. */
export interface RegenerateOptions {
  /**
   * Carry the session's data over to the new id. koa-session's own `regenerate` keeps it; the
   * default here starts empty, as express-session does, so both frameworks log in alike.
   * @default false
   */
  keep?: boolean;
}

/**
 * Gives the session a new id (the defence against session fixation, to call on login); the old
 * id is destroyed. With `keep: true` the data survives the change of id.
 */
export async function regenerate(ctx: Koa.Context, options: RegenerateOptions = {}): Promise<void> {
  const state = (ctx.session as unknown as KoaSession | null)?.[kState];
  if (!state) throw new TypeError('regenerate: ctx.session is missing; is the session middleware of @scaleout/koa installed?');
  await state.regenerate(options.keep === true);
}
