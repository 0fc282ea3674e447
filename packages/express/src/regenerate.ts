import type { Request } from 'express';

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
export function regenerate(req: Request, options: RegenerateOptions = {}): Promise<void> {
  const session = req.session;
  if (!session) return Promise.reject(new TypeError('regenerate: req.session is missing; is the session middleware installed?'));
  const carried = options.keep ? (JSON.parse(JSON.stringify(session)) as Record<string, unknown>) : undefined;
  if (carried) delete carried.cookie;
  return new Promise((resolve, reject) => {
    session.regenerate((err: unknown) => {
      if (err) return reject(err);
      if (carried) Object.assign(req.session, carried);
      resolve();
    });
  });
}
