module.exports = globalThis.__scaleoutCompat.expressSession.Store // the copy @scaleout/express wraps
