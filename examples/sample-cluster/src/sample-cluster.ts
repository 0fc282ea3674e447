import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';
import { createProxy, type Proxy } from '@scaleout/proxy';
import type { Backend } from './backends.js';
import { freePort, logTail, ManagedProcess } from '@scaleout/harness';
import { Dashboard } from './dashboard.js';
import { StartFailedError } from './errors.js';
import { resolveOptions, type ResolvedOptions, type SampleClusterOptions } from './options.js';
import { prepareRunConfig, type RunConfig } from './run-config.js';
import { StatsSampler } from './stats-sampler.js';

const debug = debuglog('scaleout:sample-cluster');
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** The three app nodes: one interface, two frameworks. */
export const NODES = [
  { id: 'node-1', framework: 'express', script: 'express-node.ts' },
  { id: 'node-2', framework: 'express', script: 'express-node.ts' },
  { id: 'node-3', framework: 'koa', script: 'koa-node.ts' },
] as const;

/** One process the launcher owns, as the pid file and status JSON list it. */
export interface OwnedProcess {
  name: string;
  /** The process group id (the leader's pid): every process it started is in this group. */
  pid: number | null;
}

interface NodeHandle {
  id: string;
  framework: 'express' | 'koa';
  port: number;
  url: string;
  process: ManagedProcess;
}

const READY_TIMEOUT_MS = 90_000;
const STICKY_MODE = { sticky: 'learn', cluster: 'insert', store: 'none' } as const;

/** Waits for the `ready` message of a Node.js child, or fails with the tail of its log. */
async function whenReady(p: ManagedProcess): Promise<void> {
  const child = p.child;
  if (!child) throw new StartFailedError(`${p.spec.name} did not start`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StartFailedError(`${p.spec.name} was not ready within ${READY_TIMEOUT_MS} ms; see ${p.spec.logFile}`)), READY_TIMEOUT_MS);
    const onMessage = (m: unknown) => {
      if ((m as { type?: string })?.type === 'ready') done(resolve);
    };
    const onExit = () => done(() => reject(new StartFailedError(`${p.spec.name} exited before it was ready:\n${logTail(p.spec.logFile)}`)));
    const done = (then: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      then();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * The sample cluster: three app nodes (two Express, one Koa) as separate processes, two
 * instances of an internal profile service, the servers the strategy needs, `@scaleout/proxy`
 * in front (in this process, with kill and restart buttons on its status page) and a dashboard.
 */
export class SampleCluster {
  readonly options: ResolvedOptions;
  #runDir = '';
  #ownsRunDir = false;
  #run: RunConfig | undefined;
  #nodes: NodeHandle[] = [];
  #profiles: ManagedProcess[] = [];
  #proxy: Proxy | undefined;
  #dashboard: Dashboard | undefined;
  #sampler: StatsSampler | undefined;
  #closed: Promise<void> | undefined;
  #proxyUrl = '';
  // The status page's kill and restart buttons need a token; a fresh one per run, so that only
  // whoever sees the launcher's output (or its loopback dashboard) can press them.
  readonly #statusToken = randomBytes(24).toString('base64url');

  constructor(options: SampleClusterOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** The demo app, through the proxy. */
  get url(): string {
    return this.#proxyUrl;
  }
  /** The proxy's status routes (`.json`, `/targets/…`); each needs `statusToken`. */
  get statusUrl(): string {
    return `${this.#proxyUrl}/__scaleout/status`;
  }
  /** The bearer token of the proxy's status page, generated for this run. */
  get statusToken(): string {
    return this.#statusToken;
  }
  /** The status page to open in a browser, token included. */
  get statusPageUrl(): string {
    return `${this.statusUrl}?token=${this.#statusToken}`;
  }
  get dashboardUrl(): string {
    return this.#dashboard?.url ?? '';
  }
  get summary(): string {
    return this.#run?.summary ?? '';
  }
  get strategy(): string {
    return this.#run?.config.strategy ?? this.options.strategy;
  }
  get runDir(): string {
    return this.#runDir;
  }
  get proxy(): Proxy | undefined {
    return this.#proxy;
  }

  #port = async (offset: number): Promise<number> => (this.options.basePort !== undefined ? this.options.basePort + offset : freePort());

  /** Starts everything; on failure stops what did start and rethrows. */
  async start(): Promise<this> {
    const o = this.options;
    try {
      this.#ownsRunDir = o.runDir === undefined;
      this.#runDir = o.runDir ? resolve(o.runDir) : mkdtempSync(join(tmpdir(), 'scaleout-sample-'));
      mkdirSync(this.#runDir, { recursive: true });
      this.#run = await prepareRunConfig(o, this.#runDir, this.#port);
      const proxyPort = o.basePort ?? o.port;
      const dashboardPort = o.basePort !== undefined ? o.basePort + 6 : 0;
      this.#dashboard = new Dashboard(this, dashboardPort);
      const dashboardUrl = await this.#dashboard.listen();

      const profilePorts = [await this.#port(4), await this.#port(5)];
      this.#profiles = profilePorts.map(
        (port, i) =>
          new ManagedProcess({
            name: `profile-${'ab'[i]}`,
            kind: 'node',
            command: here('./profile-service.ts'),
            env: { ...process.env, PORT: String(port), PROFILE_ID: `profile-${'ab'[i]}` },
            logFile: join(this.#runDir, `profile-${'ab'[i]}.log`),
          }),
      );
      for (let i = 0; i < NODES.length; i++) {
        const n = NODES[i]!;
        const port = await this.#port(1 + i);
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          SCALEOUT_CONFIG: this.#run.file,
          SCALEOUT_NODE_ID: n.id,
          PORT: String(port),
          PROFILE_URLS: profilePorts.map((p) => `http://127.0.0.1:${p}`).join(','),
          DASHBOARD_URL: dashboardUrl,
        };
        // The launcher's own SCALEOUT_* variables would override the run's config file.
        for (const k of Object.keys(env)) if (k.startsWith('SCALEOUT_') && k !== 'SCALEOUT_CONFIG' && k !== 'SCALEOUT_NODE_ID') delete env[k];
        const proc = new ManagedProcess({ name: n.id, kind: 'node', command: here(`./${n.script}`), env, logFile: join(this.#runDir, `${n.id}.log`) });
        this.#nodes.push({ id: n.id, framework: n.framework, port, url: `http://127.0.0.1:${port}`, process: proc });
      }
      const all = [...this.#profiles, ...this.#nodes.map((n) => n.process)];
      await Promise.all(all.map(async (p) => {
        await p.start();
        await whenReady(p);
      }));

      const config = this.#run.config;
      const interval = o.healthIntervalMs;
      this.#proxy = createProxy(
        {
          listen: proxyPort,
          host: '127.0.0.1',
          algorithm: o.algorithm,
          secret: config.secret,
          targets: this.#nodes.map((n) => ({ id: n.id, url: n.url })),
          // sticky: the node's own route cookie. cluster: replication is asynchronous, so a client
          // stays on one node (the proxy's cookie) and only moves when that node dies, as with
          // Tomcat's DeltaManager behind mod_jk. store: any node serves any request.
          sticky: { mode: STICKY_MODE[config.strategy], cookieName: config.sticky.cookieName },
          // A whole interval to answer: on a busy machine a shorter timeout takes healthy nodes down
          // (and, with sticky, their sessions with them).
          healthCheck: { path: '/healthz', interval, timeout: interval, rise: 2, fall: 2 },
          // A store outage makes every node answer 503 for a moment; ejecting them all for it would
          // only stretch the outage. Dead nodes are found by the health checks and retried away from.
          passive: { consecutiveErrors: 50, ejectTime: '2s' },
          timeouts: { connect: '500ms', server: '3s', shutdown: '1s' }, // a frozen node answers 504 in 3 s, not after the 30 s default
          retries: 2,
          status: { token: this.#statusToken },
        },
        {
          status: {
            title: `scaleout sample cluster (${config.strategy})`,
            actions: {
              kill: { label: 'Kill', run: (id) => this.kill(id) },
              restart: { label: 'Restart', run: (id) => this.restart(id) },
            },
          },
        },
      );
      const { port } = await this.#proxy.listen();
      this.#proxyUrl = `http://127.0.0.1:${port}`;
      this.#sampler = new StatsSampler({ proxyStats: () => this.#proxy!.stats(), nodes: () => this.nodes() }, 1000);
      this.#sampler.start();
      await this.writePidFile();
      debug('started: %s', this.#proxyUrl);
      return this;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** The nodes as the launcher sees them. */
  nodes(): { id: string; framework: 'express' | 'koa'; url: string; running: boolean; pid: number | undefined }[] {
    return this.#nodes.map((n) => ({ id: n.id, framework: n.framework, url: n.url, running: n.process.alive, pid: n.process.pid }));
  }

  /** Every process this launcher started, by process group. */
  processes(): OwnedProcess[] {
    const backends: Backend[] = this.#run?.backends ?? [];
    return [...backends.map((b) => b.process), ...this.#profiles, ...this.#nodes.map((n) => n.process)].map((p) => ({ name: p.spec.name, pid: p.pid ?? null }));
  }

  /** The servers the strategy uses (Redis, Sentinel, Hazelcast). */
  backends(): readonly Backend[] {
    return this.#run?.backends ?? [];
  }

  /** Everything the dashboard shows, as JSON. */
  status(): unknown {
    return {
      strategy: this.strategy,
      summary: this.summary,
      url: this.url,
      statusUrl: this.statusUrl,
      statusPageUrl: this.statusPageUrl,
      dashboardUrl: this.dashboardUrl,
      launcherPid: process.pid,
      proxy: this.#proxy?.stats() ?? null,
      nodes: this.#sampler?.views() ?? [],
      processes: this.processes(),
    };
  }

  #node(id: string): NodeHandle {
    const n = this.#nodes.find((x) => x.id === id);
    if (!n) throw new StartFailedError(`no node ${JSON.stringify(id)}; the nodes are ${this.#nodes.map((x) => x.id).join(', ')}`);
    return n;
  }

  /** Kills a node at once (SIGKILL to its group): a crash, not a graceful stop. */
  async kill(id: string): Promise<{ id: string; running: boolean }> {
    const n = this.#node(id);
    await n.process.kill();
    debug('killed %s', id);
    return { id, running: n.process.alive };
  }

  /** Starts a killed node again on its port; the proxy takes it back after its health checks pass. */
  async restart(id: string): Promise<{ id: string; running: boolean }> {
    const n = this.#node(id);
    if (!n.process.alive) {
      await n.process.start();
      await whenReady(n.process);
      await this.writePidFile();
    }
    return { id, running: n.process.alive };
  }

  /** Switches the proxy's algorithm for requests without a route cookie. */
  setAlgorithm(name: string): void {
    this.#proxy?.setAlgorithm(name);
  }

  async writePidFile(): Promise<void> {
    if (!this.options.pidFile) return;
    await writeFile(this.options.pidFile, `${JSON.stringify({ launcher: process.pid, processes: this.processes() }, null, 2)}\n`);
  }

  /** Stops every process it started (nodes, profile service, servers), the proxy and the dashboard. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#sampler?.close();
      await this.#proxy?.close();
      await this.#dashboard?.close();
      await Promise.all([...this.#nodes.map((n) => n.process.stop(3000)), ...this.#profiles.map((p) => p.stop(2000))]);
      // The servers last: a node shutting down may still write to them.
      await Promise.all((this.#run?.backends ?? []).map((b) => b.process.stop(3000)));
      if (this.#ownsRunDir && !this.options.keep && this.#runDir) rmSync(this.#runDir, { recursive: true, force: true });
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
