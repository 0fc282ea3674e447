module.exports = globalThis.__scaleoutCompat.expressSession.Cookie // the copy @scaleout/express wraps
