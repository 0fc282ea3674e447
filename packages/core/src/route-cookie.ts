import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

/** Length in characters of a route tag: 16 bytes of HMAC-SHA256, base64url. */
export const ROUTE_TAG_LENGTH = 22;
const TAG_PATTERN = /^[A-Za-z0-9_-]{22}$/;
// Domain separation: the same secret also signs session cookies and replication messages.
const CONTEXT = 'scaleout:route:v1\0';

function normalizeSecrets(secret: string | readonly string[]): string[] {
  const list = typeof secret === 'string' ? [secret] : [...secret];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new InvalidArgumentError('secret', 'secret must be a non-empty string or a non-empty array of non-empty strings');
  }
  return list;
}

/**
 * The opaque route tag of a node: an HMAC of its id under a secret. It never shows the node's
 * name or address (unlike Envoy's base64 `ip:port`), and every balancer that holds the secret
 * derives the same tag with no shared state (as HAProxy's `dynamic-cookie-key`).
 */
export function routeTag(nodeId: string, secret: string): string {
  if (typeof nodeId !== 'string' || nodeId.length === 0) throw new InvalidArgumentError('nodeId', 'nodeId must be a non-empty string');
  return createHmac('sha256', secret).update(CONTEXT + nodeId).digest().subarray(0, 16).toString('base64url');
}

/** True when `value` has the shape of a route tag (length and alphabet), before any MAC check. */
export function isRouteTagShape(value: unknown): value is string {
  return typeof value === 'string' && TAG_PATTERN.test(value);
}

function sameTag(a: string, b: string): boolean {
  // Both are checked to be 22 ASCII characters first, so the buffers have equal length.
  return timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

/**
 * Maps route tags back to node ids, for balancers. Every secret verifies (rotation); the
 * comparison runs over every candidate in constant time per candidate.
 */
export class RouteTable {
  readonly #entries: { tag: string; nodeId: string }[] = [];
  readonly #signing = new Map<string, string>();
  readonly #secrets: string[];

  constructor(nodeIds: Iterable<string>, secret: string | readonly string[]) {
    this.#secrets = normalizeSecrets(secret);
    for (const id of nodeIds) this.add(id);
  }

  /** Adds a node (for targets added at run time). */
  add(nodeId: string): void {
    if (this.#signing.has(nodeId)) return;
    this.#secrets.forEach((s, i) => {
      const tag = routeTag(nodeId, s);
      if (i === 0) this.#signing.set(nodeId, tag);
      this.#entries.push({ tag, nodeId });
    });
  }

  /** Removes a node. */
  remove(nodeId: string): void {
    this.#signing.delete(nodeId);
    for (let i = this.#entries.length - 1; i >= 0; i--) if (this.#entries[i]!.nodeId === nodeId) this.#entries.splice(i, 1);
  }

  /** The tag a balancer writes for `nodeId` (signed with the newest secret). */
  tagFor(nodeId: string): string | undefined {
    return this.#signing.get(nodeId);
  }

  /** The node a cookie value names, or `undefined` for a forged, garbled or unknown tag. */
  resolve(value: unknown): string | undefined {
    if (!isRouteTagShape(value)) return undefined;
    let found: string | undefined;
    for (const e of this.#entries) if (sameTag(e.tag, value) && found === undefined) found = e.nodeId;
    return found;
  }
}

/** Options of a node's route cookie. */
export interface RouteCookieOptions {
  /** Cookie name. @default "route" */
  cookieName?: string;
}

/**
 * A node's route cookie: the `sticky` strategy sets it so that a balancer in `learn` mode
 * (ours, HAProxy or nginx) pins the client to this node.
 */
export class RouteCookie {
  /** The cookie's name. */
  readonly name: string;
  /** The node this cookie pins to. */
  readonly nodeId: string;
  /** The cookie value this node writes (tag under the newest secret). */
  readonly value: string;
  readonly #table: RouteTable;

  constructor(nodeId: string, secret: string | readonly string[], options: RouteCookieOptions = {}) {
    const name = options.cookieName ?? 'route';
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      // RFC 6265 §4.1.1: a cookie name is an RFC 2616 token.
      throw new InvalidArgumentError('sticky.cookieName', `cookie name ${JSON.stringify(name)} is not an RFC 6265 token`);
    }
    this.name = name;
    this.nodeId = nodeId;
    this.#table = new RouteTable([nodeId], secret);
    this.value = this.#table.tagFor(nodeId)!;
  }

  /** True when `value` is this node's tag under any configured secret. */
  matches(value: unknown): boolean {
    return this.#table.resolve(value) === this.nodeId;
  }

  /** True when the client's cookie must be (re)written: absent, foreign, or under a retired secret. */
  needsSet(value: unknown): boolean {
    return value !== this.value;
  }
}
