// Replaces koa-session's test/store.ts (an in-memory object store): the suite's external store
// is @scaleout/koa's koaSessionStore() over the backend (memory or Redis).
const h = (globalThis as any).__scaleoutCompat;
h.koaStore ??= h.koa.koaSessionStore(h.koaBackend);
export default h.koaStore;
