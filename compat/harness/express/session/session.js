module.exports = globalThis.__scaleoutCompat.expressSession.Session // the copy @scaleout/express wraps
