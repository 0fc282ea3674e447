// Loaded by koa-session's tests as `../src/index.js`. COMPAT_KOA_MODE:
//   binding (default): koa-session's API served by @scaleout/koa's session(strategy, app, options);
//   store:             the real koa-session (the copy @scaleout/koa wraps), its external store
//                      being koaSessionStore() (test/store.ts is replaced by it, see store.ts).
const h = (globalThis as any).__scaleoutCompat;
if (!h) throw new Error('run with --import setup.mjs (see run.sh)');

export type CreateSessionOptions = Record<string, any>;

// koa-session's defaults (DEFAULT_SESSION_OPTIONS + formatOptions), filled where a test leaves
// the option unset, so the binding runs with the option set the test expects.
const KOA_DEFAULTS = {
  key: 'koa.sess',
  maxAge: 86400000,
  overwrite: true,
  httpOnly: true,
  signed: true,
  autoCommit: true,
  rolling: false,
  renew: false,
  sameSite: false, // koa-session sets no SameSite unless asked
};

export function createSession(opts: any, app: any) {
  if (opts && typeof opts.use === 'function') [app, opts] = [opts, app];
  if (h.koaMode === 'store') return h.koaSession(opts, app);
  const options: Record<string, any> = { ...(opts ?? {}) };
  for (const [k, v] of Object.entries(KOA_DEFAULTS)) if (!(k in options) || options[k] === undefined) options[k] = v;
  // Up to 9d0f5f0 the binding handed these options to koa-session, whose schema refuses
  // `sameSite: false` and null (undefined is its "none"); the engine-based binding reads `false` as "no SameSite".
  if (!h.koa.KoaSession && options.sameSite === false) options.sameSite = undefined; // present, so it overrides the binding's 'lax'
  if ('maxage' in options && !('maxAge' in (opts ?? {}))) options.maxAge = options.maxage;
  // The suite's shared external store is the backend itself, which the strategy hands the
  // binding (up to 9d0f5f0 it built its own koaSessionStore() over it): the option is dropped.
  if (options.store === h.koaStore) delete options.store;
  const keys: string[] | undefined = app?.keys;
  const strategy = h.strategyFor({
    secret: keys && keys.length ? [...keys] : undefined,
    cookieName: options.key,
    secure: options.secure === true ? true : false,
    freshStore: false,
  });
  strategy.store = h.koaBackend;
  return h.koa.session(strategy, app, options);
}

export default createSession;
