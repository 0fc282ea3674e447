import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { ALGORITHMS, type AlgorithmName } from '@scaleout/balancer';
import { bool, cookieName, ConfigError, describeValue, duration, int } from '@scaleout/core';

/** Algorithms that work at L4 (no cookies, no response times to measure per request). */
export const TCP_ALGORITHMS = ['round-robin', 'least-connections', 'ip-hash'] as const;

/** One node behind the proxy. */
export interface TargetInput {
  /** The app node's `nodeId`: the route tag is derived from it. */
  id: string;
  /** `http://host:port` (HTTP mode) or `tcp://host:port` (TCP mode). */
  url: string;
  /** Share of unpinned traffic under `weighted-round-robin`. @default 1 */
  weight?: number;
  /**
   * Most connections the proxy holds open to this node at once (HAProxy `server … maxconn`).
   * HTTP requests past it wait for a free pooled connection; a WebSocket or TCP tunnel past it
   * goes to another node (503 when none is left). @default 512
   */
  maxConnections?: number;
}

/** The proxy's config as written in `proxy.json`. Durations take `"1s"`, `"500ms"` or milliseconds. */
export interface ProxyConfigInput {
  /** Port to listen on (0 picks a free one). @default 8080 */
  listen?: number;
  /** Address to bind. Anything other than loopback requires `status.token`. @default "127.0.0.1" */
  host?: string;
  /** `http` (L7, cookies, WebSocket) or `tcp` (L4). @default "http" */
  mode?: 'http' | 'tcp';
  /** How unpinned requests are spread. @default "round-robin" */
  algorithm?: AlgorithmName;
  /** The app nodes' shared secret (newest first); required for stickiness. */
  secret?: string | string[];
  /** The nodes. */
  targets: TargetInput[];
  /** Cookie stickiness (HTTP mode only). */
  sticky?: {
    /** `learn` routes by the app's route cookie; `insert` writes the proxy's own; `none` turns it off. @default "learn" when a secret is set, else "none" */
    mode?: 'learn' | 'insert' | 'none';
    /** @default "route" */
    cookieName?: string;
    /** `insert`: the `Secure` attribute. @default false */
    secure?: boolean;
    /** `insert`: the `SameSite` attribute. @default "Lax" */
    sameSite?: 'Lax' | 'Strict' | 'None';
    /** `insert`: `Max-Age` of the cookie; omitted makes a browser-session cookie. @default undefined */
    maxAge?: number | string;
    /** `insert`: mark responses that set the cookie uncacheable by shared caches, as HAProxy `nocache`. @default true */
    nocache?: boolean;
  };
  /** Active health checks. */
  healthCheck?: {
    /** @default true */
    enabled?: boolean;
    /** HTTP path probed with GET; a 2xx or 3xx passes. TCP mode probes with a connect instead (a connection accepted within `timeout` passes). @default "/healthz" */
    path?: string;
    /** @default "2s" */
    interval?: number | string;
    /** @default "1s" */
    timeout?: number | string;
    /** Consecutive successes that bring a node back. @default 2 */
    rise?: number;
    /** Consecutive failures that take a node down. @default 3 */
    fall?: number;
  };
  /** Passive checks: consecutive connect errors or 5xx answers that eject a node for a while. */
  passive?: {
    /** @default 5 */
    consecutiveErrors?: number;
    /** First ejection time (grows with each ejection). @default "10s" */
    ejectTime?: number | string;
  };
  /** Time limits. */
  timeouts?: {
    /** Connecting to a node. @default "2s" */
    connect?: number | string;
    /** Waiting for a node's response headers once the request body is sent, and the longest silence from a node while streaming either way. @default "30s" */
    server?: number | string;
    /** The longest silence from a client while it sends its request body; past it the proxy answers 408 (nginx `client_body_timeout`). @default "60s" */
    body?: number | string;
    /** The longest a client may leave a response unread (back-pressure) before its connection is cut (nginx `send_timeout`). @default "60s" */
    send?: number | string;
    /** A client's request headers (bounds slowloris). @default "10s" */
    headers?: number | string;
    /** A client's whole request, body included. @default "5m" */
    request?: number | string;
    /** An idle client keep-alive connection. @default "60s" */
    idle?: number | string;
    /** An idle WebSocket or TCP tunnel. @default "1h" */
    tunnel?: number | string;
    /** On close: how long in-flight requests may take before their connections are cut. @default "10s" */
    shutdown?: number | string;
  };
  /** Retries on another node after a failure that nothing of the request reached (HTTP, WebSocket and TCP alike). @default 1 */
  retries?: number;
  /**
   * Retries across all requests may add at most `ratio` of the requests plus `minPerSecond`
   * each second, over a sliding 10 s window (Finagle's retry budget), so a failing node cannot
   * multiply the load on the others. @default { ratio: 0.2, minPerSecond: 10 }
   */
  retryBudget?: {
    /** Share of the requests that retries may add. */
    ratio?: number;
    /** Retries allowed each second whatever the ratio. */
    minPerSecond?: number;
  };
  /**
   * Which peers may speak for the client: their `X-Forwarded-For` hops are walked for the client
   * address, their `X-Forwarded-Proto`/`-Host`, `Forwarded` and `X-Real-IP` are kept. `true`
   * trusts every peer; a list holds addresses, CIDR ranges (`10.0.0.0/8`) and proxy-addr's names
   * `loopback`, `linklocal`, `uniquelocal`, as Express's `trust proxy`. @default false
   */
  trustProxy?: boolean | string[];
  /** The status page, JSON and admin endpoints (HTTP mode). */
  status?: {
    /** @default true */
    enabled?: boolean;
    /** Reserved path prefix. @default "/__scaleout/status" */
    path?: string;
    /** Bearer token (or `?token=`); required when `host` is not loopback. */
    token?: string;
    /**
     * Without a token: the `Host` values (`name` or `name:port`) the status routes answer besides
     * the bound address (and `localhost` on loopback). Any other `Host`, or a POST whose `Origin`
     * is not one of them, gets 403: a DNS-rebinding page cannot drive the admin endpoints. @default []
     */
    allowedHosts?: string[];
  };
  /** Largest request head in bytes; bigger gets 431. @default 16384 */
  maxHeaderSize?: number;
  /** The health endpoint (HTTP mode): 200 while the proxy can serve, else 503; no token needed. */
  health?: {
    /** @default true */
    enabled?: boolean;
    /** @default "/__scaleout/health" */
    path?: string;
  };
  /** Most header fields in a request; more gets 431 (HAProxy `tune.http.maxhdr`), never silently cut as Node would past 2000. @default 100 */
  maxHeadersCount?: number;
  /**
   * Processes serving (the CLI only; `createProxy()` is always one): `"auto"` is one per core.
   * They share the listening socket through node:cluster; each has its own health checks,
   * counters and status page. @default 1
   */
  workers?: number | 'auto';
  /** Most client connections open at once (HAProxy `maxconn`); past it a new connection gets a 503 (HTTP) or is closed (TCP), while open ones keep working. @default 4096 */
  maxConnections?: number;
}

/** Defaults of every optional field of {@link ProxyConfigInput}, durations in ms. */
export const DEFAULT_PROXY_CONFIG = {
  /** Default of `listen`. */
  listen: 8080,
  /** Default of `host`. */
  host: '127.0.0.1',
  /** Default of `mode`. */
  mode: 'http',
  /** Default of `algorithm`. */
  algorithm: 'round-robin',
  /** Defaults of `sticky`. */
  sticky: {
    /** Default of `sticky.cookieName`. */
    cookieName: 'route',
    /** Default of `sticky.secure`. */
    secure: false,
    /** Default of `sticky.sameSite`. */
    sameSite: 'Lax',
    /** Default of `sticky.nocache`. */
    nocache: true,
  },
  /** Defaults of `healthCheck`. */
  healthCheck: {
    /** Default of `healthCheck.enabled`. */
    enabled: true,
    /** Default of `healthCheck.path`. */
    path: '/healthz',
    /** Default of `healthCheck.interval`, in ms. */
    interval: 2000,
    /** Default of `healthCheck.timeout`, in ms. */
    timeout: 1000,
    /** Default of `healthCheck.rise`. */
    rise: 2,
    /** Default of `healthCheck.fall`. */
    fall: 3,
  },
  /** Defaults of `passive`. */
  passive: {
    /** Default of `passive.consecutiveErrors`. */
    consecutiveErrors: 5,
    /** Default of `passive.ejectTime`, in ms. */
    ejectTime: 10_000,
  },
  /** Defaults of `timeouts`. */
  timeouts: {
    /** Default of `timeouts.connect`, in ms. */
    connect: 2000,
    /** Default of `timeouts.server`, in ms. */
    server: 30_000,
    /** Default of `timeouts.body`, in ms. */
    body: 60_000,
    /** Default of `timeouts.send`, in ms. */
    send: 60_000,
    /** Default of `timeouts.headers`, in ms. */
    headers: 10_000,
    /** Default of `timeouts.request`, in ms. */
    request: 300_000,
    /** Default of `timeouts.idle`, in ms. */
    idle: 60_000,
    /** Default of `timeouts.tunnel`, in ms. */
    tunnel: 3_600_000,
    /** Default of `timeouts.shutdown`, in ms. */
    shutdown: 10_000,
  },
  /** Default of `retries`. */
  retries: 1,
  /** Defaults of `retryBudget`. */
  retryBudget: {
    /** Default of `retryBudget.ratio`. */
    ratio: 0.2,
    /** Default of `retryBudget.minPerSecond`. */
    minPerSecond: 10,
  },
  /** Default of `trustProxy`. */
  trustProxy: false,
  /** Defaults of `status`. */
  status: {
    /** Default of `status.enabled`. */
    enabled: true,
    /** Default of `status.path`. */
    path: '/__scaleout/status',
    /** Default of `status.allowedHosts`. */
    allowedHosts: [] as string[],
  },
  /** Default of `maxHeaderSize`. */
  maxHeaderSize: 16_384,
  /** Defaults of `health`. */
  health: {
    /** Default of `health.enabled`. */
    enabled: true,
    /** Default of `health.path`. */
    path: '/__scaleout/health',
  },
  /** Default of `maxHeadersCount`. */
  maxHeadersCount: 100,
  /** Default of `maxConnections`. */
  maxConnections: 4096,
  /** Default of `workers`. */
  workers: 1,
} as const;

const D = DEFAULT_PROXY_CONFIG;

// One entry of `trustProxy`, as proxy-addr reads it (it throws on what it cannot).
function trustable(entry: string): boolean {
  try {
    proxyaddr.compile(entry);
    return true;
  } catch {
    return false;
  }
}
const secret = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'expected a non-empty string or a non-empty array of strings, newest first' });
const target = z.strictObject({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'expected letters, digits and . _ : -'),
  url: z.string().regex(/^(https?|tcp):\/\/[A-Za-z0-9._-]+(:\d{1,5})?\/?$|^(https?|tcp):\/\/\[[0-9A-Fa-f:]+\](:\d{1,5})?\/?$/, 'expected "http://host:port" or "tcp://host:port"'),
  weight: int(1, 1000).default(1),
  maxConnections: int(1, 100_000).default(512),
});
const path = z.string().max(200).regex(/^\/[A-Za-z0-9._~/-]*$/, 'expected an absolute path such as "/healthz"');

const schema = z.strictObject({
  listen: int(0, 65535).default(D.listen),
  host: z.string().min(1).max(255).default(D.host),
  mode: z.enum(['http', 'tcp']).default(D.mode),
  algorithm: z.enum(ALGORITHMS as [AlgorithmName, ...AlgorithmName[]]).default(D.algorithm),
  secret: secret.transform((s) => (typeof s === 'string' ? [s] : s)).optional(),
  targets: z.array(target).min(1, 'expected at least one target'),
  sticky: z
    .strictObject({
      mode: z.enum(['learn', 'insert', 'none']).optional(),
      cookieName: cookieName().default(D.sticky.cookieName),
      secure: bool().default(D.sticky.secure),
      sameSite: z.enum(['Lax', 'Strict', 'None']).default(D.sticky.sameSite),
      maxAge: duration().optional(),
      nocache: bool().default(D.sticky.nocache),
    })
    .default({ ...D.sticky }),
  healthCheck: z
    .strictObject({
      enabled: bool().default(D.healthCheck.enabled),
      path: path.default(D.healthCheck.path),
      interval: duration().default(D.healthCheck.interval),
      timeout: duration().default(D.healthCheck.timeout),
      rise: int(1, 100).default(D.healthCheck.rise),
      fall: int(1, 100).default(D.healthCheck.fall),
    })
    .default({ ...D.healthCheck }),
  passive: z
    .strictObject({
      consecutiveErrors: int(1, 1000).default(D.passive.consecutiveErrors),
      ejectTime: duration().default(D.passive.ejectTime),
    })
    .default({ ...D.passive }),
  timeouts: z
    .strictObject({
      connect: duration().default(D.timeouts.connect),
      server: duration().default(D.timeouts.server),
      body: duration().default(D.timeouts.body),
      send: duration().default(D.timeouts.send),
      headers: duration().default(D.timeouts.headers),
      request: duration().default(D.timeouts.request),
      idle: duration().default(D.timeouts.idle),
      tunnel: duration().default(D.timeouts.tunnel),
      shutdown: duration().default(D.timeouts.shutdown),
    })
    .default({ ...D.timeouts }),
  retries: int(0, 5).default(D.retries),
  retryBudget: z
    .strictObject({
      ratio: z.number().min(0).max(1).default(D.retryBudget.ratio),
      minPerSecond: z.number().min(0).max(10_000).default(D.retryBudget.minPerSecond),
    })
    .default({ ...D.retryBudget }),
  trustProxy: z.union([bool(), z.array(z.string().max(64).refine(trustable, 'expected an IP address, a CIDR range such as "10.0.0.0/8", or loopback, linklocal, uniquelocal'))]).default(D.trustProxy),
  status: z
    .strictObject({
      enabled: bool().default(D.status.enabled),
      path: path.default(D.status.path),
      token: z.string().min(16, 'expected a token of at least 16 characters').max(512).optional(),
      allowedHosts: z.array(z.string().regex(/^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/, 'expected a host name, IPv4 address or [IPv6] address, with an optional :port')).max(100).default([]),
    })
    .default({ ...D.status }),
  maxHeaderSize: int(1024, 1_048_576).default(D.maxHeaderSize),
  health: z
    .strictObject({
      enabled: bool().default(D.health.enabled),
      path: path.default(D.health.path),
    })
    .default({ ...D.health }),
  maxHeadersCount: int(1, 10_000).default(D.maxHeadersCount),
  maxConnections: int(1, 1_000_000).default(D.maxConnections),
  workers: z.union([z.literal('auto'), int(1, 256)], { error: 'expected "auto" or a whole number from 1 to 256' }).default(D.workers),
});

/** A validated config: defaults filled in, durations in milliseconds, `secret` an array. */
export type ProxyConfig = Omit<z.output<typeof schema>, 'sticky'> & {
  /** Cookie stickiness, its mode resolved (`learn` when a secret is set, else `none`, unless given). */
  sticky: Omit<z.output<typeof schema>['sticky'], 'mode'> & {
    /** `learn` routes by the app's route cookie; `insert` writes the proxy's own; `none` turns it off. */
    mode: 'learn' | 'insert' | 'none';
  };
};
/** One validated target. */
export type Target = ProxyConfig['targets'][number];

/**
 * True for a loopback address written as an address (`127.0.0.0/8`, `::1`) or `localhost`.
 * A name is never read by its text: `127.attacker.example` is a name like any other. The
 * address actually bound is checked again in `Proxy.listen()`.
 */
export function isLoopback(host: string): boolean {
  const ip = isIP(host);
  if (ip === 4) return host.startsWith('127.');
  if (ip === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./i.test(host);
  return host === 'localhost';
}

function refuse(field: string, value: unknown, allowed: string): never {
  throw new ConfigError(field, `proxy config ${field}: got ${describeValue(value, field)}; ${allowed}`);
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v = input;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

// Rules that span fields, checked after the shapes are right.
function crossCheck(c: ProxyConfig): void {
  const ids = new Set<string>();
  c.targets.forEach((t, i) => {
    if (ids.has(t.id)) refuse(`targets.${i}.id`, t.id, 'expected ids to be unique');
    ids.add(t.id);
    const scheme = t.url.slice(0, t.url.indexOf(':'));
    if (c.mode === 'http' && scheme !== 'http') refuse(`targets.${i}.url`, t.url, 'expected an http:// URL in http mode');
    if (c.mode === 'tcp' && scheme === 'https') refuse(`targets.${i}.url`, t.url, 'expected tcp://host:port in tcp mode');
  });
  if (c.mode === 'tcp' && !(TCP_ALGORITHMS as readonly string[]).includes(c.algorithm)) {
    refuse('algorithm', c.algorithm, `expected one of ${TCP_ALGORITHMS.join(', ')} in tcp mode`);
  }
  if (c.mode === 'tcp' && c.sticky.mode !== 'none') {
    refuse('sticky.mode', c.sticky.mode, 'expected "none" in tcp mode: cookies live in HTTP, which L4 does not read (use algorithm "ip-hash")');
  }
  if (c.sticky.mode !== 'none' && !c.secret) refuse('secret', undefined, `expected the app nodes' secret: sticky mode "${c.sticky.mode}" derives route tags from it`);
  if (c.status.enabled && c.mode === 'http' && !c.status.token && !isLoopback(c.host)) {
    refuse('status.token', undefined, `expected a token of at least 16 characters: the status page and admin endpoints must not be open on ${c.host}`);
  }
  if (c.healthCheck.timeout > c.healthCheck.interval) refuse('healthCheck.timeout', c.healthCheck.timeout, `expected at most healthCheck.interval (${c.healthCheck.interval} ms)`);
}

/** Validates a proxy config and fills in defaults. Throws `ConfigError` naming the field, the value and what is allowed. */
export function parseProxyConfig(input: unknown): ProxyConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) refuse('(root)', input, 'expected an object');
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const field = [...issue.path, ...keys.slice(0, 1)].map(String).join('.') || '(root)';
    if (keys.length) throw new ConfigError(field, `proxy config ${field}: unknown field; check the spelling against the configuration reference`);
    refuse(field, valueAt(input, issue.path), issue.message);
  }
  const out = result.data;
  const mode = out.sticky.mode ?? (out.secret && out.mode === 'http' ? 'learn' : 'none');
  const config: ProxyConfig = { ...out, sticky: { ...out.sticky, mode } };
  crossCheck(config);
  return config;
}

/** Reads and validates a JSON config file. */
export async function loadProxyConfig(file: string): Promise<ProxyConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `proxy config: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON.parse's message, nor the error as cause: both quote the text, secrets included.
    throw new ConfigError('(file)', `proxy config: ${file} is not valid JSON`);
  }
  return parseProxyConfig(json);
}

/** `host` and `port` of a target URL. */
export function targetAddress(url: string): { host: string; port: number } {
  const u = new URL(url.replace(/^tcp:/, 'http:'));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: u.port ? Number(u.port) : 80 };
}

