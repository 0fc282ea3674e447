import type { Request } from 'express';
import { attach, kState, type ExpressSession } from './express-session-object.js';

/** Options of {@link regenerate}. */
export interface RegenerateOptions {
  /**
   * Carry the session's data over to the new id (express-session's own `regenerate` starts
   * empty). The old id is destroyed either way, so a fixated id is worthless.
   * @default false
   */
  keep?: boolean;
}

/**
 * Gives the session a new id (the defence against session fixation, to call on login), as a
 * promise. With `keep: true` the data survives the change of id.
 */
export async function regenerate(req: Request, options: RegenerateOptions = {}): Promise<void> {
  const state = (req.session as unknown as ExpressSession | undefined)?.[kState];
  if (!state) throw new TypeError('regenerate: req.session is missing; is the session middleware of @scaleout/express installed?');
  await state.regenerate(options.keep === true);
  attach(req, state);
}
