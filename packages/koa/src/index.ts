/**
 * Koa integration: `session(strategy, app)` and a koa-session external store over any scaleout store.
 * @module @scaleout/koa
 */

export { session, type ScaleoutKoaOptions } from './session.js';
export { KoaSession } from './koa-session-object.js';
export { koaSessionStore, type KoaExternalStore, type KoaSessionStoreOptions } from './koa-session-store.js';
export { regenerate, type RegenerateOptions } from './regenerate.js';
export { login, logout } from './login.js';
