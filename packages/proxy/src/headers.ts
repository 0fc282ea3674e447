import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';

// RFC 7230 §6.1: hop-by-hop headers belong to one connection and never cross a proxy.
// `proxy-connection` is the pre-standard alias some clients still send.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip']);
// The proxy's own server already answered `Expect: 100-continue` to the client; the node gets the body.
const ANSWERED_HERE = 'expect';

/**
 * Which peers may speak for the client (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`): none, all,
 * a list of addresses, CIDR ranges and proxy-addr's names (`loopback`, `linklocal`,
 * `uniquelocal`), or a function compiled once by `compileTrust()`.
 */
export type TrustProxy = boolean | readonly string[] | TrustFunction;

/** A compiled trust rule: true when `address` is a trusted proxy. */
export type TrustFunction = (address: string, hop: number) => boolean;

const TRUST_ALL: TrustFunction = () => true;
const TRUST_NONE: TrustFunction = () => false;

/** Compiles a trust rule with proxy-addr (as Express's `trust proxy`). Throws on an address or range it cannot read. */
export function compileTrust(trust: TrustProxy): TrustFunction {
  if (typeof trust === 'function') return trust;
  if (trust === true) return TRUST_ALL;
  if (trust === false || trust.length === 0) return TRUST_NONE;
  return proxyaddr.compile([...trust]);
}

/** A peer address without the `::ffff:` prefix that dual-stack sockets give IPv4 clients. */
export function bareAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}


/** The header names that the `Connection` header marks hop-by-hop for this message. */
function connectionTokens(raw: string[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      const value = raw[i + 1]!;
      // The common value names no other field: no list to split (a kept-alive node sends it on every response).
      if (value.length === 10 && value.toLowerCase() === 'keep-alive') continue;
      for (const t of value.split(',')) {
        const name = t.trim().toLowerCase();
        if (name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') (out ??= new Set()).add(name);
      }
    }
  }
  return out;
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the nearest
 * untrusted hop of `X-Forwarded-For` (read right to left, as every hop appends), by proxy-addr.
 * A hop that is not an address ends the walk at the last address that could be read.
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  const peer = bareAddress(req.socket.remoteAddress);
  if (trust === false || !req.headers['x-forwarded-for']) return peer;
  const hops = proxyaddr.all(req, compileTrust(trust));
  for (let i = hops.length - 1; i > 0; i--) {
    const hop = bareAddress(hops[i]);
    if (isIP(hop) !== 0) return hop;
  }
  return peer;
}

/**
 * The response headers to pass to the client: a flat `[name, value, ...]` list of strings without
 * hop-by-hop fields. `raw` may hold the node's bytes as undici gives them (read as latin1, as
 * HTTP/1.1 field values are octets): one pass converts and filters, and only a response whose
 * `Connection` names further fields (rare) is filtered a second time.
 */
export function responseHeaders(raw: readonly (string | Buffer)[]): string[] {
  const out: string[] = [];
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i]!);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') (connection ??= []).push(name, latin1(raw[i + 1]!));
      continue;
    }
    out.push(name, latin1(raw[i + 1]!));
  }
  const extra = connection && connectionTokens(connection);
  if (!extra) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!extra.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

function latin1(field: string | Buffer): string {
  return typeof field === 'string' ? field : field.toString('latin1');
}

/** What the node is told about the client. */
export interface ForwardInfo {
  trust: TrustProxy;
  /** Keep `Upgrade` and `Connection: upgrade` (WebSocket handshakes). */
  upgrade?: boolean;
  /** Rewrites the `Cookie` header (insert mode hides the proxy's cookie), or drops it with `undefined`. */
  cookie?: (value: string) => string | undefined;
}

/** A `Forwarded` node (RFC 7239 §6): IPv6 bracketed and quoted, as the grammar needs. */
function forwardedNode(address: string): string {
  return isIP(address) === 6 ? `"[${address}]"` : address;
}

// What a connection's peer means for every request on it: its address, whether the trust rule
// trusts it and its `Forwarded` node. Worked out once per connection (and rule) rather than per
// request: proxy-addr parses the address on each call, and a kept-alive connection carries
// thousands of requests from the one peer.
const PEER = Symbol('peer');
interface Peer {
  trust: TrustProxy;
  address: string;
  trusted: boolean;
  node: string;
}

function peerOf(req: IncomingMessage, trust: TrustProxy): Peer {
  const socket = req.socket as IncomingMessage['socket'] & { [PEER]?: Peer };
  let peer = socket[PEER];
  if (peer === undefined || peer.trust !== trust) {
    const address = bareAddress(socket.remoteAddress);
    peer = { trust, address, trusted: trust !== false && compileTrust(trust)(address, 0), node: forwardedNode(address || 'unknown') };
    socket[PEER] = peer;
  }
  return peer;
}

/**
 * The request headers to send to a node: hop-by-hop fields removed, `X-Forwarded-For` appended
 * with the peer's address, `X-Forwarded-Proto`/`-Host` set (kept only from a trusted peer).
 * `Forwarded` (RFC 7239) gets this hop appended to a trusted peer's value and replaces an
 * untrusted peer's; `X-Real-IP` is kept from a trusted peer and set to the peer's address
 * otherwise, so a client cannot name its own address to a node that reads either.
 */
export function requestHeaders(req: IncomingMessage, info: ForwardInfo): string[] {
  const raw = req.rawHeaders;
  const extra = connectionTokens(raw);
  const { address: peer, trusted, node } = peerOf(req, info.trust);
  const out: string[] = [];
  // RFC 9112 §3.2.2: for an absolute-form target the URI's authority is the host; the node gets
  // it as `Host` (origin-form carries no authority of its own).
  const authority = absoluteAuthority(req.url);
  let xff: string | undefined;
  let proto: string | undefined;
  let host = authority;
  let fwdHost: string | undefined;
  let forwardedBy: string | undefined;
  let realIp: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    const value = raw[i + 1]!;
    if (HOP_BY_HOP.has(lower) || extra?.has(lower) || lower === ANSWERED_HERE) continue;
    if (FORWARDED.has(lower)) {
      if (lower === 'x-forwarded-for') xff = xff ? `${xff}, ${value}` : value;
      else if (!trusted) continue;
      else if (lower === 'x-forwarded-proto') proto ??= value;
      else if (lower === 'x-forwarded-host') fwdHost ??= value;
      else if (lower === 'forwarded') forwardedBy = forwardedBy ? `${forwardedBy}, ${value}` : value;
      else realIp ??= value;
      continue;
    }
    if (lower === 'host') {
      host ??= value;
      if (authority !== undefined) continue;
    }
    if (lower === 'cookie' && info.cookie) {
      const kept = info.cookie(value);
      if (kept !== undefined) out.push(name, kept);
      continue;
    }
    out.push(name, value);
  }
  if (authority !== undefined) out.push('Host', authority);
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  out.push('X-Forwarded-For', xff ? `${xff}, ${peer}` : peer);
  out.push('X-Forwarded-Proto', proto ?? scheme);
  if (fwdHost ?? host) out.push('X-Forwarded-Host', (fwdHost ?? host)!);
  const hop = `for=${node};proto=${scheme}${host ? `;host=${JSON.stringify(host)}` : ''}`;
  out.push('Forwarded', forwardedBy ? `${forwardedBy}, ${hop}` : hop);
  out.push('X-Real-IP', realIp ?? peer);
  // The body is re-framed on the way out: its length when the client gave one, else chunked.
  if (info.upgrade && req.headers.upgrade) out.push('Connection', 'Upgrade', 'Upgrade', req.headers.upgrade);
  return out;
}

/**
 * The authority (`host[:port]`, default port left out) of an absolute-form request target, or
 * `undefined` for origin-form and anything unparsable.
 */
export function absoluteAuthority(url: string | undefined): string | undefined {
  if (!url || url.charCodeAt(0) === 47 /* / */ || !/^https?:\/\//i.test(url)) return undefined;
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** True when a `Host` value names the same authority as an absolute-form target (case and default port aside). */
function sameAuthority(host: string, url: string): boolean {
  try {
    const scheme = url.slice(0, url.indexOf(':') + 1);
    const given = new URL(`${scheme}//${host.trim()}`);
    return given.host === new URL(url).host && given.pathname === '/' && !given.username && !given.password;
  } catch {
    return false;
  }
}

/**
 * Why a request must be refused with 400 before any node is chosen, or `undefined` when it is
 * well-formed. RFC 9110 §7.2 and RFC 9112 §3.2: more than one `Host` line (even with equal
 * values) is a 400, and so is an HTTP/1.1 request with none or with an empty one (every target
 * the proxy serves has an authority). An absolute-form target whose authority differs from the
 * `Host` line is refused too: RFC 9112 §3.2.2 lets a server ignore `Host` there, but the node
 * and any cache beside it could read the other one (nginx and HAProxy both refuse the mismatch).
 * Such a request is the client's fault: forwarding it would let undici refuse it and the refusal
 * be charged to the node (as nginx "client sent duplicate host header", the proxy answers it itself).
 */
export function malformedRequest(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      hosts++;
      host = raw[i + 1]!;
    }
  }
  if (hosts > 1) return 'duplicate Host header';
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return 'missing Host header';
  if (host !== undefined && host.trim() === '') return 'empty Host header';
  if (host !== undefined && absoluteAuthority(req.url) !== undefined && !sameAuthority(host, req.url!)) return 'Host header conflicts with the request target';
  return undefined;
}

/** True when the request carries a body (RFC 7230 §3.3.3: a length other than 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

/**
 * The request target in origin-form (`/path?query`), as a proxy sends it on (RFC 7230 §5.3):
 * absolute-form is cut down to its path; asterisk-form (`OPTIONS *`) and garbage give `undefined`.
 */
export function originForm(url: string | undefined): string | undefined {
  if (!url) return undefined;
  if (url.charCodeAt(0) === 47 /* / */) return url;
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return undefined;
  }
}
