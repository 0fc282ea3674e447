import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { debuglog } from 'node:util';
import { ALGORITHMS } from '@scaleout/balancer';
import { ConfigError } from '@scaleout/core';
import type { TargetStats } from './pool.js';

const debug = debuglog('scaleout:proxy-status');
const MAX_BODY = 1024;

/** What `Proxy.stats()` returns and `status.json` serves. */
export interface ProxyStats {
  /** `http` (L7) or `tcp` (L4). */
  mode: 'http' | 'tcp';
  /** The algorithm that spreads unpinned requests. */
  algorithm: string;
  /** The stickiness mode in effect. */
  sticky: 'learn' | 'insert' | 'none';
  /** Time since the proxy started, in ms. */
  uptimeMs: number;
  /** The process serving (one of several with `workers`). */
  pid: number;
  /** Client connections open now (bounded by `maxConnections`). */
  connections: number;
  /** Answers the proxy made itself because it could not serve: 502, 503, 504. */
  errors: {
    /** A target failed the request (connection refused or reset, a broken response). */
    502: number;
    /** No target could take the request, or the proxy could not serve it in its state. */
    503: number;
    /** A target took longer than a timeout. */
    504: number;
  };
  /** Each target's view. */
  targets: TargetStats[];
}

/** An extra per-target control on the status page (e.g. kill/restart in a demo cluster). */
export interface StatusAction {
  /** Button text. */
  label: string;
  /** Runs on `POST <path>/targets/<id>/<name>`; what it returns is sent back as JSON. */
  run(targetId: string): unknown;
}

/** Options of the status page that config files cannot carry. */
export interface StatusPageOptions {
  /**
   * Extra per-target buttons, by action name (letters, digits, `-`). They need `status.token`:
   * without one the proxy refuses to start (`ConfigError` on `status.token`). @default {}
   */
  actions?: Record<string, StatusAction>;
  /** Page title. @default "scaleout proxy" */
  title?: string;
}

/** What the status endpoint drives. */
export interface StatusTarget {
  stats(): ProxyStats;
  /** The Prometheus exposition of the proxy's metrics. */
  metrics(): Promise<{ contentType: string; text: string }>;
  setAlgorithm(name: string): void;
  setDraining(id: string, draining: boolean): boolean;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

// Every answer under the status path: never framed (clickjacking on the admin buttons), never
// leaking its URL (and a `?token=`) through a Referer.
const NO_FRAMES = "frame-ancestors 'none'";

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res
    .writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': NO_FRAMES,
      'referrer-policy': 'no-referrer',
      ...extra,
    })
    .end(body);
}

/** Where the status routes are served and who may reach them. */
export interface StatusAccess {
  /** Reserved path prefix. */
  path: string;
  /** Bearer token; without one, only the allowed `Host`/`Origin` values get through. */
  token?: string | undefined;
  /** `Host` values allowed besides the bound address (token-less only). */
  allowedHosts?: readonly string[];
  /** The address the proxy is bound to. */
  address(): AddressInfo | undefined;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/**
 * The status page (`<path>`), its JSON (`<path>.json`), Prometheus metrics (`<path>/metrics`) and the admin endpoints
 * (`POST <path>/targets/<id>/drain|enable|<action>`, `POST <path>/algorithm?name=…`).
 * With a token, every route needs `Authorization: Bearer <token>` or `?token=`. POSTs also need
 * the `X-Scaleout-Admin` header, which a cross-site form cannot send without a CORS preflight.
 */
export class StatusEndpoint {
  readonly path: string;
  readonly #token: Buffer | undefined;
  readonly #allowedHosts: readonly string[];
  readonly #address: () => AddressInfo | undefined;
  readonly #target: StatusTarget;
  readonly #actions: Record<string, StatusAction>;
  readonly #title: string;

  constructor(access: StatusAccess, target: StatusTarget, options: StatusPageOptions = {}) {
    this.path = access.path.replace(/\/+$/, '');
    this.#token = access.token === undefined ? undefined : digest(access.token);
    this.#allowedHosts = (access.allowedHosts ?? []).map((h) => h.toLowerCase());
    this.#address = access.address;
    this.#target = target;
    this.#actions = options.actions ?? {};
    this.#title = options.title ?? 'scaleout proxy';
    for (const name of Object.keys(this.#actions)) {
      if (!/^[A-Za-z0-9-]{1,32}$/.test(name) || name === 'drain' || name === 'enable') throw new TypeError(`status action name ${JSON.stringify(name)} must be letters, digits and -, and not drain/enable`);
    }
    // A custom action can do anything (kill a process, restart a node), and the token-less
    // Host/Origin rule is only a guard against browsers. Refused at start-up, where the operator
    // sees it, rather than served as buttons that would answer 403 to everyone.
    const names = Object.keys(this.#actions);
    if (names.length > 0 && !this.#token) {
      throw new ConfigError('status.token', `proxy config status.token: expected a token of at least 16 characters: the status actions ${names.join(', ')} require one`);
    }
  }

  /** True when a request URL is under the reserved path. */
  matches(url: string | undefined): boolean {
    return url !== undefined && url.startsWith(this.path) && (url.length === this.path.length || '/.?'.includes(url[this.path.length]!));
  }

  #authorized(req: IncomingMessage, url: URL): boolean {
    if (!this.#token) return true;
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : url.searchParams.get('token');
    return given !== null && given !== undefined && timingSafeEqual(digest(given), this.#token);
  }

  /**
   * Without a token, the only guard is that the proxy listens on loopback; a DNS-rebinding page
   * gets around that (its own name, resolved to 127.0.0.1, in `Host`), so the request must name
   * the bound address, `localhost` on loopback, or an allowed host, and a POST's `Origin` too.
   */
  #sameSite(req: IncomingMessage): boolean {
    if (this.#token) return true;
    const addr = this.#address();
    if (!addr) return false;
    const bound = isIP(addr.address) === 6 ? `[${addr.address}]` : addr.address;
    const allowed = new Set([`${bound}:${addr.port}`, ...this.#allowedHosts]);
    if (addr.address.startsWith('127.') || addr.address === '::1') allowed.add(`localhost:${addr.port}`);
    const host = req.headers.host?.toLowerCase();
    if (host === undefined || !allowed.has(host)) return false;
    if (req.method !== 'POST') return true;
    const origin = req.headers.origin;
    if (origin === undefined) return true; // not from a page: curl, a script
    const m = /^https?:\/\/([^/]+)$/i.exec(origin);
    return m !== null && allowed.has(m[1]!.toLowerCase());
  }

  /** Serves one request under the reserved path. Never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://status.invalid');
      if (!this.#authorized(req, url)) return send(res, 401, 'text/plain; charset=utf-8', '401 Unauthorized: a status token is required\n', { 'www-authenticate': 'Bearer' });
      if (!this.#sameSite(req)) return send(res, 403, 'text/plain; charset=utf-8', '403 Forbidden: Host or Origin is not this proxy (set status.allowedHosts or status.token)\n');
      const rest = url.pathname.slice(this.path.length);
      if (req.method === 'GET' || req.method === 'HEAD') {
        if (rest === '.json') return json(res, 200, this.#target.stats());
        if (rest === '/metrics') {
          const m = await this.#target.metrics();
          return send(res, 200, m.contentType, m.text);
        }
        if (rest === '' || rest === '/') return this.#page(res);
        return send(res, 404, 'text/plain; charset=utf-8', '404 Not Found\n');
      }
      if (req.method !== 'POST') return send(res, 405, 'text/plain; charset=utf-8', '405 Method Not Allowed\n', { allow: 'GET, HEAD, POST' });
      if (!req.headers['x-scaleout-admin']) return json(res, 403, { error: 'admin requests need the X-Scaleout-Admin header' });
      return await this.#admin(req, res, rest, url);
    } catch (err) {
      debug('status request failed: %s', (err as Error).message);
      if (!res.headersSent) json(res, 500, { error: 'status request failed' });
    }
  }

  async #admin(req: IncomingMessage, res: ServerResponse, rest: string, url: URL): Promise<void> {
    if (rest === '/algorithm') {
      const body = await readSmallBody(req);
      let name = url.searchParams.get('name');
      if (!name && body) name = (safeJson(body) as { algorithm?: unknown } | undefined)?.algorithm as string;
      if (typeof name !== 'string' || !(ALGORITHMS as readonly string[]).includes(name)) return json(res, 400, { error: 'unknown algorithm', allowed: ALGORITHMS });
      this.#target.setAlgorithm(name);
      return json(res, 200, { algorithm: name });
    }
    const m = /^\/targets\/([^/]{1,128})\/([A-Za-z0-9-]{1,32})$/.exec(rest);
    if (!m) return json(res, 404, { error: 'no such admin endpoint' });
    req.resume();
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return json(res, 400, { error: 'target id is not valid percent-encoding' });
    }
    const action = m[2]!;
    if (!this.#target.stats().targets.some((t) => t.id === id)) return json(res, 404, { error: 'no such target' });
    if (action === 'drain' || action === 'enable') {
      this.#target.setDraining(id, action === 'drain');
      return json(res, 200, { id, draining: action === 'drain' });
    }
    const custom = Object.hasOwn(this.#actions, action) ? this.#actions[action] : undefined;
    if (!custom) return json(res, 404, { error: 'no such action' });
    const result = await custom.run(id);
    return json(res, 200, { id, action, result: result ?? null });
  }

  #page(res: ServerResponse): void {
    const s = this.#target.stats();
    const nonce = randomBytes(12).toString('base64');
    const actions = [['drain', 'Drain'], ['enable', 'Enable'], ...Object.entries(this.#actions).map(([k, a]) => [k, a.label])] as const;
    const rows = s.targets
      .map((t) => {
        const buttons = actions.map(([name, label]) => `<button data-id="${esc(t.id)}" data-action="${esc(name)}">${esc(label)}</button>`).join(' ');
        const ewma = t.latencyEwmaMs === null ? '–' : t.latencyEwmaMs.toFixed(1);
        return `<tr class="${t.state}"><td>${esc(t.id)}</td><td>${esc(t.url)}</td><td>${t.state}</td><td>${t.weight}</td><td>${t.inFlight}</td><td>${t.requests}</td><td>${t.failures}</td><td>${ewma}</td><td>${t.pins.pinned}</td><td>${t.pins.fresh}</td><td>${t.pins.redispatched}</td><td>${buttons}</td></tr>`;
      })
      .join('\n');
    const options = ALGORITHMS.map((a) => `<option${a === s.algorithm ? ' selected' : ''}>${a}</option>`).join('');
    const html = `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>${esc(this.#title)}</title>
<style nonce="${nonce}">body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}tr.down td{background:#fdd}tr.drain td{background:#ffd}tr.ejected td{background:#fed}</style></head>
<body><h1>${esc(this.#title)}</h1>
<p>mode <b>${s.mode}</b> · sticky <b>${s.sticky}</b> · up ${Math.round(s.uptimeMs / 1000)} s · proxy errors 502: ${s.errors[502]} 503: ${s.errors[503]} 504: ${s.errors[504]}</p>
<p><label>algorithm <select id="algorithm">${options}</select></label></p>
<table><thead><tr><th>target</th><th>url</th><th>state</th><th>weight</th><th>in flight</th><th>requests</th><th>errors</th><th>EWMA ms</th><th>pinned</th><th>new pins</th><th>redispatched</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>
<script nonce="${nonce}">
const token = new URLSearchParams(location.search).get('token');
const base = location.pathname.replace(/\\/$/, '');
const post = (path) => fetch(base + path, { method: 'POST', headers: Object.assign({ 'x-scaleout-admin': '1' }, token ? { authorization: 'Bearer ' + token } : {}) }).then(() => location.reload());
for (const b of document.querySelectorAll('button[data-action]')) b.onclick = () => post('/targets/' + encodeURIComponent(b.dataset.id) + '/' + b.dataset.action);
document.getElementById('algorithm').onchange = (e) => post('/algorithm?name=' + encodeURIComponent(e.target.value));
</script></body></html>`;
    send(res, 200, 'text/html; charset=utf-8', html, { 'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; ${NO_FRAMES}` });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readSmallBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size <= MAX_BODY ? Buffer.concat(chunks).toString('utf8') : ''));
    req.on('error', () => resolve(''));
  });
}
