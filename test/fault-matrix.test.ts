import { expect } from 'chai';
import { describeRow, runScenario, SHORT, type MatrixRow } from '../faults/matrix.js';
import { parseFaultArgs } from '../faults/options.js';
import { shortPlan } from '../faults/plan.js';
import { startTopology, TOPOLOGY_LABELS, type Topology } from '../faults/topology.js';

// The short fault matrix (the full one is `npm run faults`, docs/reliability.md): real app node
// processes behind the @scaleout/proxy process, real Redis, Sentinel and Hazelcast, faults
// injected for real under a steady load of virtual users, and each row held to its promise.

/** Checks that a fault really hit something, so that a row of zeros cannot come from a no-op. */
const HIT: Record<string, (row: MatrixRow, topology: Topology) => void> = {
  'app-node-kill': (row) => expect(row.victimShare, 'VUs on the killed node').to.be.greaterThan(0),
  'proxy-restart': (row) => expect(row.noAnswer, 'connections refused while the proxy was down').to.be.greaterThan(0),
  'pubsub-kill': (row) => expect(Number(/^(\d+)/.exec(row.detail)?.[1]), 'subscriber connections killed (one per node)').to.be.at.least(3),
  'sentinel-master-kill': (row) => expect(row.statuses['503'] ?? 0, 'writes refused with 503 while Sentinel promotes a replica').to.be.greaterThan(0),
  'hazelcast-member-kill': (_row, topology) => expect(topology.hazelcast!.members[1]!.alive, 'the killed member stays down').to.equal(false),
};

describe('npm run faults: command line', function () {
  it('runs every applicable fault on every topology by default, and writes the table', function () {
    const run = parseFaultArgs([]);
    expect(run.plan.map((e) => e.topology)).to.deep.equal(['sticky', 'cluster-redis', 'store-sentinel', 'store-redis-cluster', 'store-hazelcast', 'store-hazelcast-no-backup']);
    expect(run.plan.reduce((n, e) => n + e.faults.length, 0)).to.equal(23);
    expect(run.plan.at(-1)!.faults.map((f) => f.name)).to.deep.equal(['hazelcast-member-kill']);
    expect(run.plan.find((e) => e.topology === 'sticky')!.faults.map((f) => f.name)).to.deep.equal(['app-node-kill', 'app-node-pause', 'proxy-restart']);
    expect(run.write).to.equal(true);
  });

  it('filters by topology and fault, and then writes only when told', function () {
    const run = parseFaultArgs(['--topologies', 'store-sentinel, cluster-redis', '--faults', 'redis-slow', '--vus', '3']);
    expect(run.plan.map((e) => [e.topology, e.faults.map((f) => f.name)])).to.deep.equal([['cluster-redis', ['redis-slow']], ['store-sentinel', ['redis-slow']]]);
    expect(run.options.vus).to.equal(3);
    expect(run.write).to.equal(false);
    expect(parseFaultArgs(['--short', '--write']).write).to.equal(true);
  });

  it('refuses unknown names, bad counts, stray arguments and filters that match nothing', function () {
    expect(() => parseFaultArgs(['--topologies', 'mongodb'])).to.throw(/no topology "mongodb"; the topologies are sticky/);
    expect(() => parseFaultArgs(['--faults', `${'x'.repeat(5000)}`])).to.throw(/no fault "x{40}"; the faults are/);
    expect(() => parseFaultArgs(['--topologies', 'sticky', '--faults', 'sentinel-master-kill'])).to.throw(/no scenario matches/);
    for (const vus of ['0', '-1', '1.5', 'abc', '1e3', '1001', '', ' 2']) expect(() => parseFaultArgs([`--vus=${vus}`]), vus).to.throw(/--vus: got .*; expected a whole number from 1 to 1000/);
    expect(() => parseFaultArgs(['--vus'])).to.throw(/argument missing/);
    expect(() => parseFaultArgs(['--bogus'])).to.throw(/Unknown option/);
    expect(() => parseFaultArgs(['extra'])).to.throw(/Unexpected argument/);
  });
});

describe('fault matrix (short): every strategy keeps its promises under real faults', function () {
  for (const entry of shortPlan()) {
    describe(TOPOLOGY_LABELS[entry.topology], function () {
      let topology: Topology | undefined;
      before(async function () {
        this.timeout(120_000);
        topology = await startTopology(entry.topology);
      });
      after(async function () {
        this.timeout(30_000);
        await topology?.close();
      });

      for (const [i, fault] of entry.faults.entries()) {
        const nodeShare = entry.topology === 'sticky' && fault.name.startsWith('app-node');
        it(`${fault.title}: 0 hung, every VU served again, ${nodeShare ? "at most the node's share of sessions lost" : 'no session or update lost'}`, async function () {
          this.timeout(120_000);
          const row = await runScenario(topology!, fault, { ...SHORT, restore: i < entry.faults.length - 1 });
          console.log(`      ${describeRow(row).replace(/\n/g, '\n      ')}`);
          HIT[fault.name]?.(row, topology!);
          expect(row.requests, 'requests made').to.be.greaterThan(SHORT.vus * 5);
          expect(row.hung, 'requests with no answer within the timeout').to.equal(0);
          expect(row.recoveryMs, 'every VU got a 200 again').to.be.a('number');
          expect(row.updatesLost, `acknowledged increments lost: ${row.events.join('; ')}`).to.equal(0);
          if (row.promise.sessionsLost === 'node share') {
            // sticky: the node's sessions go with it, by design, and only those.
            expect(row.sessionsLost, "sessions lost (sticky: the killed node's share)").to.be.at.most(row.victimShare!).and.greaterThan(0);
          } else {
            expect(row.sessionsLost, `sessions lost: ${row.events.join('; ')}`).to.equal(0);
          }
          expect(row.problems).to.deep.equal([]);
        });
      }
    });
  }
});
