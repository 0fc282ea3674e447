/**
 * Express integration: `session(strategy)` and an express-session `Store` over any scaleout store.
 * @module @scaleout/express
 */

export { session, type ScaleoutExpressOptions, type Middleware } from './session.js';
export { ExpressSession } from './express-session-object.js';
export { ExpressSessionStore, DEFAULT_EXPRESS_STORE_OPTIONS, type ExpressSessionStoreOptions } from './express-session-store.js';
export { CallbackStoreAdapter, type CallbackStore } from './callback-store.js';
export { regenerate, type RegenerateOptions } from './regenerate.js';
export { login, logout } from './login.js';
