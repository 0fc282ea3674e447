import type { IncomingHttpHeaders } from 'node:http';
import { dropCookie, parseCookies, RouteTable } from '@scaleout/core';
import type { ProxyConfig } from './config.js';

/** The value of cookie `name` in a `Cookie` header, read as the app nodes read it (core's parser). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  return header === undefined ? undefined : parseCookies(header)[name];
}

export { dropCookie };

/**
 * Cookie stickiness as HAProxy does it. `learn`: the app's `sticky` strategy writes the route
 * cookie and the proxy only reads it. `insert`: the proxy writes its own cookie and hides it
 * from the node (HAProxy `insert indirect`). Either way the value is the node's keyed route tag,
 * so it names no node or address, and every proxy holding the secret reads it the same way.
 */
export class Stickiness {
  /** The stickiness mode in effect. */
  readonly mode: 'learn' | 'insert' | 'none';
  /** The name of the route cookie read (and, with `insert`, written). */
  readonly cookieName: string;
  readonly #table: RouteTable | undefined;
  readonly #attributes: string;
  readonly #nocache: boolean;

  constructor(config: Pick<ProxyConfig, 'sticky' | 'secret' | 'targets'>) {
    const s = config.sticky;
    this.mode = s.mode;
    this.cookieName = s.cookieName;
    this.#table = s.mode !== 'none' && config.secret ? new RouteTable(config.targets.map((t) => t.id), config.secret) : undefined;
    const attrs = ['Path=/', 'HttpOnly', `SameSite=${s.sameSite}`];
    // RFC 6265bis §4.1.2.7: browsers drop SameSite=None cookies that are not Secure.
    if (s.secure || s.sameSite === 'None') attrs.push('Secure');
    if (s.maxAge !== undefined) attrs.push(`Max-Age=${Math.floor(s.maxAge / 1000)}`);
    this.#attributes = attrs.join('; ');
    this.#nocache = s.nocache;
  }

  /** The node the request's cookie pins it to, or `undefined` (no cookie, forged, garbled, unknown node). */
  pinned(headers: IncomingHttpHeaders): string | undefined {
    if (!this.#table) return undefined;
    const value = readCookie(headers.cookie, this.cookieName);
    return value === undefined ? undefined : this.#table.resolve(value);
  }

  /** The route tag of a node (what the app's cookie or the inserted cookie carries). */
  tagFor(nodeId: string): string | undefined {
    return this.#table?.tagFor(nodeId);
  }

  /** `insert` mode (HAProxy `indirect`): the `Cookie` header the node gets, without the proxy's cookie. */
  stripCookie(header: string): string | undefined {
    return header.includes(this.cookieName) ? dropCookie(header, this.cookieName) : header;
  }

  /**
   * `insert` mode: the headers to add to a response served by `nodeId` when the client is not
   * already pinned to it (first visit, or re-dispatched after its node went down).
   */
  insertHeaders(nodeId: string, pinnedTo: string | undefined, cacheControl: string | string[] | undefined): Record<string, string> | undefined {
    if (this.mode !== 'insert' || pinnedTo === nodeId) return undefined;
    const tag = this.#table?.tagFor(nodeId);
    if (!tag) return undefined;
    const out: Record<string, string> = { 'set-cookie': `${this.cookieName}=${tag}; ${this.#attributes}` };
    // As HAProxy `nocache`: a shared cache must not hand this cookie to other clients.
    if (this.#nocache) {
      const prior = Array.isArray(cacheControl) ? cacheControl.join(', ') : cacheControl;
      out['cache-control'] = prior ? `${prior}, no-cache="set-cookie"` : 'no-cache="set-cookie"';
    }
    return out;
  }
}
