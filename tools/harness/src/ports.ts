import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { ConditionTimeoutError, PortInUseError, StartFailedError } from './errors.js';

// Servers get ports from a fixed range below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range). A port found by binding port 0 lies inside that range, where
// the kernel may hand it to some outgoing connection as its local port before the server binds
// it; ports below the range are never given out that way. Each process starts at its own place
// in the range, so parallel runs (several checkouts testing at once) seldom try the same ports,
// and it walks forward, so one process never hands out a port twice while it may still be unbound.

/** The lowest port {@link freePort} picks. */
export const PORT_RANGE_FLOOR = 20_000;
/** The highest port {@link freePort} picks, when the ephemeral range starts above it. */
export const PORT_RANGE_CEILING = 32_767;
// Fewer candidates than this and the range is not worth walking: port 0 instead.
const MIN_RANGE = 1000;

/** The ports {@link freePort} picks from (both ends included) and the ports reserved inside it. */
export interface PortRange {
  low: number;
  high: number;
  /** Ports an administrator kept out of automatic use (net.ipv4.ip_local_reserved_ports). */
  reserved: ReadonlySet<number>;
}

function readProc(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses `ip_local_reserved_ports` ("8080,20000-20010") into the set of ports it names. */
export function parseReservedPorts(text: string): Set<number> {
  const ports = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [from, to = from] = part.split('-').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to)) continue;
    for (let p = from!; p <= to!; p++) ports.add(p);
  }
  return ports;
}

/**
 * The range {@link freePort} picks from: {@link PORT_RANGE_FLOOR} up to {@link PORT_RANGE_CEILING}
 * or the port below the ephemeral range, whichever is lower; the ports above the ephemeral range
 * when that leaves too few. `undefined` when neither has room (the caller binds port 0). Where
 * /proc is absent (not Linux), Linux's default ephemeral range (32768-60999) is assumed: the
 * BSDs and macOS start theirs at 49152, above it.
 */
export function portRange(ephemeral = readProc('ip_local_port_range') ?? '', reserved = readProc('ip_local_reserved_ports') ?? ''): PortRange | undefined {
  const [from = 32_768, to = 60_999] = ephemeral.trim().split(/\s+/).filter(Boolean).map(Number).filter(Number.isInteger);
  const taken = parseReservedPorts(reserved);
  const below = { low: PORT_RANGE_FLOOR, high: Math.min(PORT_RANGE_CEILING, from - 1), reserved: taken };
  if (below.high - below.low + 1 >= MIN_RANGE) return below;
  const above = { low: Math.max(to + 1, 1024), high: 65_535, reserved: taken };
  if (above.high - above.low + 1 >= MIN_RANGE) return above;
  return undefined;
}

let range: PortRange | null | undefined;
let cursor = -1;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function portZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (for servers that cannot take port 0),
 * below the ephemeral range (see {@link portRange}). The server may still lose it to another
 * process before it binds: start it through {@link onFreePort} to try again on another port.
 */
export async function freePort(): Promise<number> {
  if (range === undefined) range = portRange() ?? null;
  if (range === null) return portZero();
  const size = range.high - range.low + 1;
  // Spread processes over the range by pid: consecutive pids start far apart.
  if (cursor < 0) cursor = (process.pid * 7919) % size;
  for (let tried = 0; tried < size; tried++) {
    const port = range.low + (cursor++ % size);
    if (!range.reserved.has(port) && (await bindable(port))) return port;
  }
  return portZero();
}

export interface OnFreePortOptions {
  /** A port already picked (and written into a config) to try first. */
  first?: number;
  /** Ports tried in all before the error is passed on. @default 5 */
  attempts?: number;
}

/**
 * Runs `start` with a free port and, when the server could not bind it (a {@link PortInUseError}:
 * another process took the port after {@link freePort} found it free), again with another port.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, options: OnFreePortOptions = {}): Promise<T> {
  const { first, attempts = 5 } = options;
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 && first !== undefined ? first : await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= attempts) throw err;
    }
  }
}

export interface WaitForPortOptions {
  /** @default "127.0.0.1" */
  host?: string;
  /** Settles when the process that should listen exits: the wait fails at once instead of timing out. */
  exited?: Promise<unknown>;
  /** The process's name in the error. @default ":<port>" */
  name?: string;
}

/** Resolves once something accepts TCP connections on `port`, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, options: WaitForPortOptions = {}): Promise<void> {
  const { host = '127.0.0.1', exited, name = `:${port}` } = options;
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true), () => (gone = true));
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (gone) throw new StartFailedError(`${name} exited before it listened on ${host}:${port}`);
    if (Date.now() > deadline) throw new StartFailedError(`nothing listens on ${host}:${port} after ${timeoutMs} ms (${name})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` until it returns a truthy value, or rejects after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new ConditionTimeoutError(`${what} not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`, last === undefined ? undefined : { cause: last });
    await new Promise((r) => setTimeout(r, 25));
  }
}
