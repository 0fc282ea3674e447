module.exports = globalThis.__scaleoutCompat.expressSession.MemoryStore // the copy @scaleout/express wraps
