import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, groupAlive, killOnExit } from '@scaleout/harness';

export { groupAlive };
export { CookieClient } from '../../examples/sample-cluster/src/experiments/cookie-client.js';

const LAUNCHER = fileURLToPath(new URL('../../examples/sample-cluster/src/launcher.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A sample cluster started from its launcher, as a user's `npm start` would. */
export interface LaunchedCluster extends AsyncDisposable {
  /** The demo app through the proxy. */
  url: string;
  /** The proxy's status routes, without the token. */
  statusUrl: string;
  /** The status page's token, from the URL the launcher printed. */
  statusToken: string;
  /** The status page as printed, token included. */
  statusPageUrl: string;
  dashboardUrl: string;
  launcherPid: number;
  /** The process groups the launcher reports in its pid file. */
  pids(): { name: string; pid: number }[];
  /** Everything the launcher printed. */
  output(): string;
  /** Sends `signal` and resolves with the exit code once the launcher exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the launcher (`examples/sample-cluster/src/launcher.ts`) as a child process on free ports
 * with `args`, and resolves once it printed the URL to open.
 */
export async function launchSampleCluster(args: string[], timeoutMs = 120_000): Promise<LaunchedCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'scaleout-sample-test-'));
  const pidFile = join(dir, 'pids.json');
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@scaleout/source', '--import', 'tsx', LAUNCHER, '--port', '0', '--pid-file', pidFile, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const forget = killOnExit(() => child.kill('SIGKILL'));
  try {
    await eventually(() => {
      if (code !== undefined) throw new Error(`the launcher exited (${code}) before it was ready:\n${out}`);
      return /^\s*open\s+http:\/\/\S+/m.test(out);
    }, timeoutMs, 'the launcher printing its URL');
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${out}`, { cause: err });
  }
  const url = /^\s*open\s+(http:\/\/\S+?)\/?$/m.exec(out)![1]!;
  const dashboardUrl = /^\s*dashboard\s+(http:\/\/\S+)$/m.exec(out)![1]!;
  const statusPageUrl = /^\s*status\s+(http:\/\/\S+)$/m.exec(out)![1]!;
  const printed = new URL(statusPageUrl);
  const statusToken = printed.searchParams.get('token') ?? '';
  const statusUrl = `${printed.origin}${printed.pathname}`;
  let stopping: Promise<number | null> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM') =>
    (stopping ??= (async () => {
      if (code === undefined) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const c = await exited;
      clearTimeout(timer);
      forget();
      return c;
    })());
  return {
    url,
    statusUrl,
    statusToken,
    statusPageUrl,
    dashboardUrl,
    launcherPid: child.pid!,
    pids: () => (JSON.parse(readFileSync(pidFile, 'utf8')) as { processes: { name: string; pid: number }[] }).processes,
    output: () => out,
    stop,
    async [Symbol.asyncDispose]() {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the proxy's status JSON shows `id` in `state`. */
export async function waitForTargetState(cluster: Pick<LaunchedCluster, 'statusUrl' | 'statusToken'>, id: string, state: string, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    const res = await fetch(`${cluster.statusUrl}.json`, { headers: { authorization: `Bearer ${cluster.statusToken}` } });
    const s = (await res.json()) as { targets: { id: string; state: string }[] };
    return s.targets.find((t) => t.id === id)?.state === state;
  }, timeoutMs, `${id} ${state}`);
}
