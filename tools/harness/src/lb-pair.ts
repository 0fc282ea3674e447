// Two scaleout-proxy machines sharing one virtual address by VRRP (keepalived), in front of three
// app nodes and a Redis, with a client machine: each a network namespace on one bridge, so the
// addresses (the VIP included) exist only inside them. Used by the failover test and by
// `npm run experiment -- lb-failover`. Every process is real and is killed for real.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepalivedBinary } from './keepalived.js';
import type { LoadReport, LoadSpec } from './lb-client.js';
import { ClientHost, Keepalived, PROXY_BIN, ProxyProcess, ROOT, type Lb } from './lb-pair-machines.js';
import { Lan, removeLeftovers, requireNamespaces } from './netns.js';
import { nodeProcess, type NodeProcess } from './node-process.js';
import { eventually } from './ports.js';
import { baseRedisArgs } from './redis.js';
import { runNodeScript } from './run.js';
import { startProcess, tempDir, type ServerProcess } from './server-process.js';

export type { LoadReport, LoadSpec, RequestRecord } from './lb-client.js';
export type { Lb } from './lb-pair-machines.js';

const CLIENT = fileURLToPath(new URL('./lb-client.ts', import.meta.url));
const APP_NODE = fileURLToPath(new URL('./lb-node.ts', import.meta.url));
const TOKEN = 'lb-pair-status-token-0123456789';
// Fixed ports are safe here: each host is a namespace of its own, with nothing else in it.
const PROXY_PORT = 8080;
const NODE_PORT = 3000;
const REDIS_PORT = 6379;

export interface LbPairOptions {
  /** Session strategy of the app nodes. @default "store" */
  strategy?: 'store' | 'cluster';
  /** keepalived `advert_int`, seconds. @default 1 */
  advertInt?: number;
  /** keepalived `nopreempt`. @default true */
  nopreempt?: boolean;
  /** VRRP priorities of lb1 and lb2. @default [200, 150] */
  priorities?: [number, number];
  /** Start keepalived (false: the SPOF setup, the VIP fixed on lb1). @default true */
  vrrp?: boolean;
  /**
   * Also give each proxy machine the VIP on `lo`, silent on the wire (`arp_ignore=1`,
   * `arp_announce=2`, as LVS-DR real servers do): the machine that just gave the address up can
   * still send the answers of requests already in flight. @default true
   */
  vipOnLoopback?: boolean;
}

/** How {@link LbPair.failover} loads and waits. */
export interface FailoverOptions {
  /** Users, each with a cookie jar. @default 12 */
  clients?: number;
  /** Client timeout per request. @default 2000 */
  timeoutMs?: number;
  /** Pause between a user's requests. @default 25 */
  pauseMs?: number;
  /** Users send through `@scaleout/balancer`, retrying idempotent requests. @default false */
  retry?: boolean;
  /** Load kept up after the first answer through the other proxy. @default 1500 */
  settleMs?: number;
  giveUpMs?: number;
  /** The fault restarts the same proxy (no VRRP): the window ends at its first answer after the restart. @default false */
  sameMachine?: boolean;
}

/** What one failover measured. */
export interface Failover {
  /** From the fault until the first answer served through the other proxy. */
  windowMs: number;
  /** Share of the requests started within the window that failed. */
  failedInWindowPct: number;
  requests: number;
  failed: number;
  lostSessions: number;
  /** The longest any request took (never past the client timeout). */
  maxLatencyMs: number;
  report: LoadReport;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The topology, started by {@link LbPair.start}; `close()` removes every namespace and process. */
export class LbPair {
  readonly lan = new Lan();
  readonly tmp = tempDir('lb-pair');
  readonly vip = `${this.lan.subnet}.100`;
  readonly proxies = {} as Record<Lb, ProxyProcess>;
  readonly keepalived = {} as Record<Lb, Keepalived>;
  /** The keepalived.conf of each machine, as `scaleout-proxy export keepalived` printed it. */
  readonly confs = {} as Record<Lb, string>;
  nodes: NodeProcess[] = [];
  redis: ServerProcess | undefined;
  client: ClientHost | undefined;
  strategy: 'store' | 'cluster';
  readonly options: Required<LbPairOptions>;

  private constructor(options: LbPairOptions) {
    this.options = { strategy: 'store', advertInt: 1, nopreempt: true, priorities: [200, 150], vrrp: true, vipOnLoopback: true, ...options };
    this.strategy = this.options.strategy;
  }

  /** Fails with what is needed when namespaces or keepalived are missing; never skips. */
  static async start(options: LbPairOptions = {}): Promise<LbPair> {
    await requireNamespaces();
    keepalivedBinary();
    await removeLeftovers();
    const pair = new LbPair(options);
    try {
      await pair.#start();
    } catch (err) {
      await pair.close();
      throw err;
    }
    return pair;
  }

  /** The address of a proxy machine: what the nodes see as the peer of a request it forwarded. */
  addr(lb: Lb): string {
    return this.lan.host(lb).addr;
  }

  other(lb: Lb): Lb {
    return lb === 'lb1' ? 'lb2' : 'lb1';
  }

  async #start(): Promise<void> {
    const lan = this.lan;
    await lan.start();
    await lan.addHost('client', 10);
    await lan.addHost('lb1', 2);
    await lan.addHost('lb2', 3);
    await lan.addHost('redis', 20);
    for (let i = 1; i <= 3; i++) await lan.addHost(`n${i}`, 10 + i);

    const redisHost = lan.host('redis');
    this.redis = await startProcess({
      name: 'redis in its namespace',
      command: 'ip',
      args: ['netns', 'exec', redisHost.ns, 'redis-server', ...baseRedisArgs(REDIS_PORT, this.tmp.dir, undefined), '--bind', redisHost.addr],
      port: REDIS_PORT,
      cwd: this.tmp.dir,
      ready: () => eventually(async () => (await lan.exec('redis', 'redis-cli', '-h', redisHost.addr, '-p', String(REDIS_PORT), 'ping')).trim() === 'PONG', 10_000, 'redis answering PING').then(() => undefined),
    });

    const clientProc = nodeProcess({ name: 'the client machine', script: CLIENT, cwd: ROOT, wrap: lan.wrap('client'), port: 0, ready: /^READY$/m });
    await clientProc.start();
    this.client = new ClientHost(clientProc);
    const nodesUp = this.#startNodes();

    const proxyConfig = {
      listen: PROXY_PORT,
      host: '0.0.0.0',
      algorithm: 'round-robin',
      sticky: { mode: 'none' },
      status: { token: TOKEN },
      targets: [1, 2, 3].map((i) => ({ id: `node-${i}`, url: `http://${lan.host(`n${i}`).addr}:${NODE_PORT}` })),
      healthCheck: { interval: '500ms', timeout: '400ms', rise: 1, fall: 2 },
      timeouts: { shutdown: '5s' },
    };
    const configPath = join(this.tmp.dir, 'proxy.json');
    writeFileSync(configPath, JSON.stringify(proxyConfig, null, 2));
    for (const lb of ['lb1', 'lb2'] as const) {
      const priority = this.options.priorities[lb === 'lb1' ? 0 : 1];
      const args = ['export', 'keepalived', '--config', configPath, '--peer', this.addr(this.other(lb)), '--vip', `${this.vip}/24`, '--priority', String(priority), '--interface', 'eth0', '--advert-int', String(this.options.advertInt)];
      if (this.options.nopreempt) args.push('--nopreempt');
      const exported = await runNodeScript(PROXY_BIN, args);
      if (exported.code !== 0) throw new Error(`export keepalived failed (${exported.code}): ${exported.stderr}`);
      this.confs[lb] = exported.stdout;
      const conf = join(this.tmp.dir, `keepalived-${lb}.conf`);
      writeFileSync(conf, exported.stdout);
      // The config test where the daemon runs: there eth0 exists.
      await lan.exec(lb, keepalivedBinary(), '-t', '-f', conf);
      this.keepalived[lb] = new Keepalived(lan, lb, conf, this.tmp.dir);
      this.proxies[lb] = new ProxyProcess(lan, lb, configPath, PROXY_PORT);
    }
    await nodesUp;
    await Promise.all((['lb1', 'lb2'] as const).map((lb) => this.proxies[lb].start()));
    await this.waitHealthy('lb1');
    await this.waitHealthy('lb2');
    if (this.options.vipOnLoopback) {
      for (const lb of ['lb1', 'lb2'] as const) {
        // Answer ARP only for addresses on the asking interface, and never announce the VIP
        // from lo: only the VRRP master owns the address on the wire.
        await lan.exec(lb, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2');
        await lan.exec(lb, 'ip', 'addr', 'add', `${this.vip}/32`, 'dev', 'lo');
      }
    }
    if (this.options.vrrp) {
      await Promise.all((['lb1', 'lb2'] as const).map((lb) => this.keepalived[lb].start()));
      await this.waitHolder();
    } else {
      await lan.exec('lb1', 'ip', 'addr', 'add', `${this.vip}/24`, 'dev', 'eth0');
    }
  }

  async #startNodes(): Promise<void> {
    const redisUrl = `redis://${this.lan.host('redis').addr}:${REDIS_PORT}`;
    const channel = `lb-pair-${this.lan.prefix}-${this.strategy}`;
    this.nodes = [1, 2, 3].map((i) => {
      const host = this.lan.host(`n${i}`);
      return nodeProcess({
        name: `node-${i}`,
        script: APP_NODE,
        cwd: ROOT,
        wrap: this.lan.wrap(`n${i}`),
        host: host.addr,
        port: NODE_PORT,
        env: { ...process.env, CLUSTER_NODE_ID: `node-${i}`, CLUSTER_REDIS_URL: redisUrl, CLUSTER_CHANNEL: channel, CLUSTER_STRATEGY: this.strategy, CLUSTER_HTTP_HOST: host.addr, CLUSTER_HTTP_PORT: String(NODE_PORT) },
        ready: /READY \d+/,
        readyTimeoutMs: 30_000,
      });
    });
    await Promise.all(this.nodes.map((n) => n.start()));
  }

  /** Restarts the app nodes on another strategy and waits until both proxies see them. */
  async useStrategy(strategy: 'store' | 'cluster'): Promise<void> {
    if (strategy === this.strategy) return;
    await Promise.all(this.nodes.map((n) => n.stop()));
    this.strategy = strategy;
    await this.#startNodes();
    await this.waitHealthy('lb1');
    await this.waitHealthy('lb2');
  }

  /** Waits until the proxy's health endpoint, asked from the client machine, answers 200 with every target up. */
  async waitHealthy(lb: Lb, timeoutMs = 20_000): Promise<void> {
    await eventually(async () => {
      const r = await this.client!.get(`http://${this.addr(lb)}:${PROXY_PORT}/__scaleout/health`);
      return r.status === 200 && (JSON.parse(r.body!) as { targetsUp: number }).targetsUp === 3;
    }, timeoutMs, `proxy on ${lb} healthy`);
  }

  /** The machines whose eth0 carries the VIP now. */
  async holders(): Promise<Lb[]> {
    const out: Lb[] = [];
    for (const lb of ['lb1', 'lb2'] as const) if ((await this.lan.addresses(lb)).includes(this.vip)) out.push(lb);
    return out;
  }

  /** Waits until exactly one machine holds the VIP, and returns it. */
  async waitHolder(timeoutMs = 15_000): Promise<Lb> {
    return eventually<Lb | undefined>(async () => {
      const h = await this.holders();
      return h.length === 1 ? h[0] : undefined;
    }, timeoutMs, 'one machine holding the VIP') as Promise<Lb>;
  }

  /** The VIP's URL, as clients use it. */
  get url(): string {
    return `http://${this.vip}:${PROXY_PORT}`;
  }

  /**
   * Runs `fault` under load from `clients` users and measures the failover to `to`: the time
   * until the first answer served through it, the requests that failed, the sessions lost.
   */
  async failover(fault: () => Promise<void>, to: Lb, o: FailoverOptions = {}): Promise<Failover> {
    const spec: LoadSpec = { url: this.url, clients: o.clients ?? 12, timeoutMs: o.timeoutMs ?? 2000, pauseMs: o.pauseMs ?? 25, retry: o.retry ?? false };
    await this.client!.startLoad(spec);
    let report: LoadReport | undefined;
    try {
      await sleep(700);
      const at = Date.now();
      await fault();
      const done = Date.now();
      const via = this.addr(to);
      // Probes through the VIP as well, so the wait ends as soon as `to` answers.
      const probed = await eventually(async () => ((await this.client!.get(`${this.url}/peek`)).peer === via ? Date.now() : undefined), o.giveUpMs ?? 20_000, `answers through ${to}`).catch(() => undefined);
      await sleep(o.settleMs ?? 1500);
      report = await this.client!.stopLoad();
      const after = report.records.filter((r) => r.end >= at);
      const from = o.sameMachine ? done : at;
      const first = after.filter((r) => r.ok && r.peer === via && r.start >= from).reduce((m, r) => Math.min(m, r.end), Infinity);
      const windowMs = Math.min(first, probed ?? Infinity) - at;
      const inWindow = after.filter((r) => r.start >= at && r.start < at + windowMs);
      return {
        windowMs,
        failedInWindowPct: inWindow.length ? (100 * inWindow.filter((r) => !r.ok).length) / inWindow.length : 0,
        requests: after.length,
        failed: after.filter((r) => !r.ok).length,
        lostSessions: report.lostSessions,
        maxLatencyMs: report.records.reduce((m, r) => Math.max(m, r.end - r.start), 0),
        report,
      };
    } finally {
      if (!report) await this.client!.stopLoad().catch(() => undefined);
    }
  }

  /** Starts the proxy on `lb` again; with VRRP, waits until its keepalived is a backup again (its check passes). */
  async restartProxy(lb: Lb): Promise<void> {
    const from = this.keepalived[lb].log.length;
    await this.proxies[lb].start();
    if (this.options.vrrp) await this.keepalived[lb].state('BACKUP', from, 15_000);
  }

  /**
   * Starts a SIGKILLed keepalived again, as a backup. The dead daemon left the address on its
   * machine (nothing removed it): as after a crash, it is cleared first.
   */
  async restartKeepalived(lb: Lb): Promise<void> {
    if ((await this.lan.addresses(lb)).includes(this.vip)) await this.lan.exec(lb, 'ip', 'addr', 'del', `${this.vip}/24`, 'dev', 'eth0');
    await this.keepalived[lb].start();
    await this.keepalived[lb].state('BACKUP', 0, 10_000);
  }

  /** Stops every process and removes every namespace (veths and bridge go with them). Safe to call twice. */
  async close(): Promise<void> {
    for (const lb of ['lb1', 'lb2'] as const) {
      await this.keepalived[lb]?.kill().catch(() => undefined);
      await this.proxies[lb]?.signal('SIGKILL').catch(() => undefined);
    }
    await Promise.all(this.nodes.map((n) => n.kill().catch(() => undefined)));
    await this.client?.proc.kill();
    await this.redis?.kill().catch(() => undefined);
    this.lan.removeSync();
    this.tmp.remove();
  }
}

