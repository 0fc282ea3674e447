export { session, type ScaleoutKoaOptions } from './session.js';
export { koaSessionStore, type KoaExternalStore, type KoaSessionStoreOptions } from './koa-session-store.js';
