'use strict'
// Loaded by express-session's test/session.js as `require('../')`: express-session's API, served
// by @scaleout/express's session(strategy, options).
var h = globalThis.__scaleoutCompat
if (!h) throw new Error('run with --import setup.mjs (see run.sh)')
var real = h.expressSession

function strategySecure (cookie) {
  if (!cookie || typeof cookie !== 'object') return false
  if (cookie.secure === true || cookie.secure === 'auto') return cookie.secure
  return false
}

var COOKIE_DEFAULTS = { path: '/', httpOnly: true, maxAge: null, secure: false, sameSite: false }

function withCookieDefaults (given) {
  var out = Object.assign({}, COOKIE_DEFAULTS)
  if (given && typeof given === 'object') {
    for (var k in given) if (given[k] !== undefined) out[k] = given[k]
  }
  return out
}

function session (options) {
  var opts = Object.assign({}, options) // explicit `undefined`s stay: `secret: undefined` means "no secret"
  // express-session's own defaults, where the test leaves the option unset.
  if (opts.resave === undefined) opts.resave = true
  if (opts.saveUninitialized === undefined) opts.saveUninitialized = true
  if (opts.rolling === undefined) opts.rolling = false
  if (!opts.name && !opts.key) opts.name = 'connect.sid'
  // express-session's Cookie defaults (path '/', HttpOnly, no maxAge = browser-session cookie,
  // no Secure, no SameSite) under the test's attributes; an attribute the test gives as
  // `undefined` is unset, as in express-session. A cookie function is wrapped the same way.
  if (typeof opts.cookie === 'function') {
    var fn = opts.cookie
    opts.cookie = function (req) { return withCookieDefaults(fn(req)) }
  } else {
    opts.cookie = withCookieDefaults(opts.cookie)
  }
  var secret = opts.secret === undefined || opts.secret === '' || (Array.isArray(opts.secret) && opts.secret.length === 0)
    ? undefined
    : [].concat(opts.secret)
  var strategy = h.strategyFor({
    secret: secret, // else the strategy keeps its own placeholder (the option still overrides it)
    cookieName: opts.name || opts.key,
    secure: strategySecure(typeof options?.cookie === 'function' ? undefined : opts.cookie)
  })
  // A store the test passes (MemoryStore, SmartStore, SyncStore, its own) is kept: the binding
  // takes `options.store`; with none, the binding's ExpressSessionStore over the backend is used.
  return h.express.session(strategy, opts)
}

session.Store = real.Store
session.MemoryStore = real.MemoryStore
session.Cookie = real.Cookie
session.Session = real.Session

module.exports = session
