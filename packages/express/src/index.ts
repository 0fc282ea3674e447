export { session, type ScaleoutExpressOptions, type Middleware } from './session.js';
export { ExpressSessionStore, DEFAULT_EXPRESS_STORE_OPTIONS, type ExpressSessionStoreOptions } from './express-session-store.js';
