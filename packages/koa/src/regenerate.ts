import type Koa from 'koa';

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
  const session = ctx.session as (Record<string, unknown> & { regenerate(): Promise<void> }) | null;
  if (!session) throw new TypeError('regenerate: ctx.session is missing; is the session middleware installed?');
  if (!options.keep) for (const k of Object.keys(session)) if (k !== 'isNew' && !k.startsWith('_')) delete session[k];
  await session.regenerate();
}
