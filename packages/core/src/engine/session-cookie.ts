import { serialize } from 'cookie';
import { InvalidArgumentError } from '../errors.js';

/** The `SameSite` attribute as express-session and koa-session accept it. */
export type SameSite = boolean | 'lax' | 'strict' | 'none' | 'auto';

/** The attributes of the session cookie (express-session's `cookie` option; koa-session's flat options map here). */
export interface SessionCookieOptions {
  /** Lifetime in ms; `null` makes a browser-session cookie. @default the config's `session.ttl` */
  maxAge?: number | null;
  /** An absolute expiry instead of `maxAge`. */
  expires?: Date | null;
  /** @default true */
  httpOnly?: boolean;
  /** `auto` follows the request's protocol. @default the config's `session.secure` */
  secure?: boolean | 'auto';
  /** @default the config's `session.sameSite` ("lax") */
  sameSite?: SameSite;
  /** The `Domain` attribute; absent, the cookie goes back only to the host that set it. */
  domain?: string;
  /** @default "/" */
  path?: string;
  /** CHIPS (`Partitioned`). @default false */
  partitioned?: boolean;
  /** The `Priority` attribute (a Chromium extension); absent, none is sent. */
  priority?: 'low' | 'medium' | 'high';
}

/** The attributes of one `Set-Cookie` of the session cookie, resolved for its request. */
export interface CookieFields {
  /** The `Expires` attribute; `undefined` for a browser-session cookie. */
  expires: Date | undefined;
  /** The `HttpOnly` attribute. */
  httpOnly: boolean;
  /** The `Secure` attribute, with `auto` already resolved against the request. */
  secure: boolean;
  /** The `SameSite` attribute (`true` is `Strict`). */
  sameSite: boolean | 'lax' | 'strict' | 'none' | undefined;
  /** The `Domain` attribute, if any. */
  domain: string | undefined;
  /** The `Path` attribute. */
  path: string;
  /** The `Partitioned` attribute (CHIPS). */
  partitioned: boolean | undefined;
  /** The `Priority` attribute, if any. */
  priority: 'low' | 'medium' | 'high' | undefined;
}

/** What a session cookie stores with its session, as express-session writes it (so stored sessions move both ways). */
export type SessionCookieRecord = Omit<SessionCookieOptions, 'maxAge' | 'expires'> & {
  /** The lifetime the cookie was given, in ms; `null` for a browser-session cookie. */
  originalMaxAge: number | null;
  /** ISO 8601, or `null` for a browser-session cookie. */
  expires: string | null;
};

const ATTRIBUTES = ['httpOnly', 'secure', 'sameSite', 'domain', 'path', 'partitioned', 'priority'] as const;

/**
 * The session cookie of one request: `req.session.cookie` in Express, with express-session's
 * `Cookie` API (`maxAge` counts down from `expires`; setting it sets `originalMaxAge`).
 */
export class SessionCookie {
  /** The lifetime the cookie was given, in ms; `null` for a browser-session cookie. */
  originalMaxAge: number | null = null;
  /** The `HttpOnly` attribute. */
  httpOnly = true;
  /** The `Secure` attribute; `auto` follows the request's protocol. */
  secure: boolean | 'auto' = false;
  /** The `SameSite` attribute. */
  sameSite: SameSite | undefined;
  /** The `Domain` attribute, if any. */
  domain: string | undefined;
  /** The `Path` attribute. */
  path = '/';
  /** The `Partitioned` attribute (CHIPS). */
  partitioned: boolean | undefined;
  /** The `Priority` attribute, if any. */
  priority: 'low' | 'medium' | 'high' | undefined;
  #expires: Date | null = null;

  constructor(options: SessionCookieOptions = {}) {
    for (const k of ATTRIBUTES) {
      if (options[k] !== undefined) (this as Record<string, unknown>)[k] = options[k];
    }
    if (options.expires) this.expires = options.expires;
    if (options.maxAge !== undefined && options.maxAge !== null) this.maxAge = options.maxAge;
  }

  /** Restores the cookie a stored session carries, over the configured attributes. */
  static from(record: unknown, defaults: SessionCookieOptions): SessionCookie {
    if (record === null || typeof record !== 'object') return new SessionCookie(defaults);
    const c = new SessionCookie();
    for (const k of ATTRIBUTES) if (defaults[k] !== undefined) (c as unknown as Record<string, unknown>)[k] = defaults[k];
    const r = record as Partial<SessionCookieRecord>;
    if (typeof r.originalMaxAge === 'number' || r.originalMaxAge === null) c.originalMaxAge = r.originalMaxAge;
    const at = typeof r.expires === 'string' ? new Date(r.expires) : null;
    c.#expires = at && Number.isFinite(at.getTime()) ? at : null;
    return c;
  }

  /** The expiry; setting it also sets `originalMaxAge` to the time left. */
  get expires(): Date | null {
    return this.#expires;
  }
  /** Sets the expiry, and `originalMaxAge` to the time left. */
  set expires(date: Date | null) {
    this.#expires = date;
    this.originalMaxAge = this.maxAge;
  }

  /** Milliseconds left; setting it moves `expires` and `originalMaxAge`. */
  get maxAge(): number | null {
    return this.#expires ? this.#expires.getTime() - Date.now() : null;
  }
  /** Sets the time left in ms (`null` for a browser-session cookie), moving `expires` and `originalMaxAge`. */
  set maxAge(ms: number | null) {
    if (ms !== null && (typeof ms !== 'number' || Number.isNaN(ms))) throw new InvalidArgumentError('maxAge', `cookie.maxAge must be a number of ms or null, got ${typeof ms}`);
    this.expires = typeof ms === 'number' ? new Date(Date.now() + ms) : null;
  }

  /** Starts the lifetime again from now (what a rolling session does on each response). */
  resetMaxAge(): void {
    if (typeof this.originalMaxAge === 'number') this.#expires = new Date(Date.now() + this.originalMaxAge);
  }

  /** The attributes without the expiry, as one string: what tells that the app changed the cookie itself. */
  shape(): string {
    return `${this.originalMaxAge}|${this.httpOnly}|${this.secure}|${this.sameSite}|${this.domain}|${this.path}|${this.partitioned}|${this.priority}`;
  }

  /** The record stored with the session. */
  toJSON(): SessionCookieRecord {
    const out: SessionCookieRecord = { originalMaxAge: this.originalMaxAge, expires: this.#expires ? this.#expires.toISOString() : null, httpOnly: this.httpOnly, path: this.path };
    if (this.secure !== false) out.secure = this.secure;
    if (this.sameSite !== undefined) out.sameSite = this.sameSite;
    if (this.domain !== undefined) out.domain = this.domain;
    if (this.partitioned) out.partitioned = true;
    if (this.priority !== undefined) out.priority = this.priority;
    return out;
  }

  /** The attributes to send for this request (`auto` values resolved). */
  fields(secureRequest: boolean): CookieFields {
    return {
      expires: this.#expires ?? undefined,
      httpOnly: this.httpOnly,
      secure: this.secure === 'auto' ? secureRequest : this.secure,
      // express-session's 'auto': None over TLS (cross-site use), Lax otherwise.
      sameSite: this.sameSite === 'auto' ? (secureRequest ? 'none' : 'lax') : this.sameSite,
      domain: this.domain,
      path: this.path,
      partitioned: this.partitioned,
      priority: this.priority,
    };
  }

  /** The `Set-Cookie` value carrying `value` with these attributes (RFC 6265 §4.1). */
  serialize(name: string, value: string, secureRequest: boolean): string {
    return serialize(name, value, this.fields(secureRequest));
  }

  /** True when writing this cookie depends on whether the request came over TLS. */
  get dependsOnTls(): boolean {
    return this.secure !== false || this.sameSite === 'auto';
  }

  /** True when the cookie may only travel over TLS for this request. */
  requiresTls(secureRequest: boolean): boolean {
    return this.secure === true && !secureRequest;
  }
}
