import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { eventually, LbPair, type Failover, type Lb } from '@scaleout/harness';

const ADVERT_INT_S = 1;
const CHECK_INTERVAL_S = 1;
// keepalived's documented failover time: 3 missed adverts, plus one check interval to notice
// a dead proxy. The skew time ((256 - priority) / 256 s) fits inside the check interval here.
const BOUND_MS = (3 * ADVERT_INT_S + CHECK_INTERVAL_S) * 1000;
const CLIENT_TIMEOUT_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function line(what: string, f: Failover): string {
  return `      ${what}: window ${f.windowMs} ms, ${f.failed} of ${f.requests} requests failed, ${f.lostSessions} of ${f.report.users} sessions lost, slowest request ${f.maxLatencyMs} ms`;
}

function expectFailover(f: Failover): void {
  const errors = [...new Set(f.report.records.filter((r) => !r.ok).map((r) => r.error))].join(', ');
  expect(f.windowMs, `failover window (failures: ${errors})`).to.be.below(BOUND_MS);
  expect(f.lostSessions, 'sessions lost').to.equal(0);
  expect(f.maxLatencyMs, 'no request outlives the client timeout').to.be.at.most(CLIENT_TIMEOUT_MS + 500);
  expect(f.report.usersServed).to.equal(f.report.users);
}

describe('two proxies behind one address with VRRP (keepalived): failover under load', function () {
  this.timeout(60_000);
  let pair: LbPair | undefined;
  let namespaces: string[] = [];

  before(async function () {
    this.timeout(120_000);
    pair = await LbPair.start({ strategy: 'store', advertInt: ADVERT_INT_S, nopreempt: true });
    namespaces = pair.lan.namespaces();
  });
  after(async () => {
    await pair?.close();
  });

  const p = () => {
    if (!pair) throw new Error('the topology did not start');
    return pair;
  };

  describe('the pair', () => {
    it('runs the configs `scaleout-proxy export keepalived` printed (keepalived -t passed them in each namespace)', async () => {
      for (const lb of ['lb1', 'lb2'] as const) {
        const conf = p().confs[lb];
        expect(conf).to.include(`unicast_peer {\n    ${p().addr(p().other(lb))}\n  }`);
        expect(conf).to.include('nopreempt').and.include('track_script').and.include('advert_int 1');
        expect(conf).to.include(`fetch(\`http://127.0.0.1:8080/__scaleout/health\``);
      }
      // Only one of them holds the address; the client reaches a node through it.
      expect(await p().holders()).to.have.length(1);
      const r = await p().client!.get(`${p().url}/peek`);
      expect(r.status).to.equal(200);
    });
  });

  for (const strategy of ['store', 'cluster'] as const) {
    describe(`${strategy} on Redis`, () => {
      let killed: Lb;

      before(async function () {
        this.timeout(90_000);
        await p().useStrategy(strategy);
        await p().waitHolder(20_000);
      });

      it('SIGKILL of the active proxy: the standby answers within the bound, no session is lost', async () => {
        const active = await p().waitHolder();
        killed = active;
        const f = await p().failover(() => p().proxies[active].signal('SIGKILL'), p().other(active), { timeoutMs: CLIENT_TIMEOUT_MS });
        console.log(line(`${strategy}, proxy killed`, f));
        expectFailover(f);
        expect(await p().holders()).to.deep.equal([p().other(active)]);
      });

      it('the killed proxy restarted: with nopreempt the address stays where it is, every answer still through it', async () => {
        const holder = p().other(killed);
        // Its check passes again (rise 2) and it is a backup, ready to preempt if it were allowed to.
        await p().restartProxy(killed);
        await p().client!.startLoad({ url: p().url, clients: 6, timeoutMs: CLIENT_TIMEOUT_MS, pauseMs: 50 });
        const seen = new Set<string>();
        const until = Date.now() + BOUND_MS + 1000;
        while (Date.now() < until) {
          seen.add((await p().holders()).join('+'));
          await sleep(200);
        }
        const report = await p().client!.stopLoad();
        expect([...seen]).to.deep.equal([holder]);
        expect(report.records.filter((r) => !r.ok)).to.deep.equal([]);
        expect(new Set(report.records.map((r) => r.peer))).to.deep.equal(new Set([p().addr(holder)]));
        expect(report.lostSessions).to.equal(0);
      });

      it('SIGKILL of the active keepalived: the peer takes the address after 3 missed adverts, no session is lost', async () => {
        const active = await p().waitHolder();
        const f = await p().failover(() => p().keepalived[active].kill(), p().other(active), { timeoutMs: CLIENT_TIMEOUT_MS });
        console.log(line(`${strategy}, keepalived killed`, f));
        expectFailover(f);
        expect(await p().holders()).to.include(p().other(active));
        await p().restartKeepalived(active);
        expect(await p().holders()).to.deep.equal([p().other(active)]);
      });
    });
  }

  describe('graceful handover', () => {
    async function drain(retry: boolean): Promise<{ f: Failover; flipAt: number; via: string }> {
      const active = await p().waitHolder();
      const to = p().other(active);
      const f = await p().failover(async () => p().proxies[active].signal('SIGUSR2'), to, { timeoutMs: CLIENT_TIMEOUT_MS, retry });
      console.log(line(`drain${retry ? ', clients retrying' : ''}`, f));
      expect(await p().holders()).to.deep.equal([to]);
      // The drained proxy finishes what it has and stops cleanly; started again, it is the backup.
      await p().proxies[active].signal('SIGTERM');
      expect(p().proxies[active].exitCode).to.equal(0);
      await p().restartProxy(active);
      const via = p().addr(to);
      return { f, via, flipAt: f.report.records.filter((r) => r.ok && r.peer === via).reduce((m, r) => Math.min(m, r.end), Infinity) };
    }

    it('drain on the active proxy moves the address: 0 failed requests for clients that retry idempotent requests', async () => {
      const { f } = await drain(true);
      expectFailover(f);
      expect(f.failed, `failed requests: ${JSON.stringify(f.report.records.filter((r) => !r.ok).slice(0, 5))}`).to.equal(0);
    });

    it('drain, plain clients: every request that reached the old proxy finishes there; only a connection opened in the instant of the move is reset', async () => {
      const { f, flipAt } = await drain(false);
      expectFailover(f);
      const failed = f.report.records.filter((r) => !r.ok);
      // The old machine keeps the address on lo, so answers to requests in flight still reach
      // the client: no timeout, no 5xx. What remains is the race of a connection set up with the
      // old machine just before the clients learn the new one and used just after: a reset. The
      // clients learn the new machine from its gratuitous ARP, which a busy host may deliver to
      // the client's namespace late: the bound allows for that, not for a reset any later.
      for (const r of failed) {
        expect(r.error, JSON.stringify(r)).to.equal('ECONNRESET');
        expect(Math.abs(r.end - flipAt), `a reset ${r.end - flipAt} ms from the move`).to.be.below(1500);
      }
      expect(failed.length).to.be.at.most(Math.ceil(f.requests / 100));
    });
  });

  describe('cleanup', () => {
    it('leaves no namespace, veth, bridge or keepalived behind', async () => {
      const keepalivedPids = (['lb1', 'lb2'] as const).map((lb) => p().keepalived[lb].proc?.pid).filter((x): x is number => x !== undefined);
      await p().close();
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      for (const ns of namespaces) expect(left).not.to.include(ns);
      expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.to.match(/\bp-(lb|n\d|client|redis)|br0/);
      await eventually(() => keepalivedPids.every((pid) => !alive(pid)), 5000, 'keepalived gone');
    });
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
