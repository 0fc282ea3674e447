import { expect } from 'chai';
import { EXPERIMENTS } from '../examples/sample-cluster/src/experiments/index.js';
import { formatResult, type ExperimentResult } from '../examples/sample-cluster/src/experiments/table.js';

/** The value in `column` of `row`. */
function cell(r: ExperimentResult, row: (string | number)[], column: string): number {
  const i = r.columns.indexOf(column);
  expect(i, `column ${column} in ${r.columns.join(', ')}`).to.be.greaterThan(-1);
  return Number(row[i]);
}

function expectShape(r: ExperimentResult, name: string, rows: number): void {
  expect(r.name).to.equal(name);
  expect(r.rows).to.have.length(rows);
  for (const row of r.rows) expect(row).to.have.length(r.columns.length);
  const md = formatResult(r);
  expect(md).to.include(`npm run experiment -- ${name}`);
  expect(md.split('\n').filter((l) => l.startsWith('|'))).to.have.length(rows + 2);
}

describe('sample cluster experiments (reduced size)', function () {
  this.timeout(120_000);

  it('sticky-node-down: the killed node\'s sessions, and only those, are lost', async () => {
    const r = await EXPERIMENTS['sticky-node-down']!.run(30);
    expectShape(r, 'sticky-node-down', 1);
    const row = r.rows[0]!;
    expect(cell(r, row, 'sessions')).to.equal(30);
    const onVictim = cell(r, row, 'on node-2 (killed)');
    expect(onVictim).to.be.greaterThan(0);
    expect(cell(r, row, 'lost')).to.equal(onVictim);
    expect(cell(r, row, 'lost on other nodes')).to.equal(0);
    expect(cell(r, row, 'failed requests')).to.equal(0);
  });

  it('cluster-node-down: nothing is lost', async () => {
    const r = await EXPERIMENTS['cluster-node-down']!.run(30);
    expectShape(r, 'cluster-node-down', 1);
    const row = r.rows[0]!;
    expect(cell(r, row, 'on node-2 (killed)')).to.be.greaterThan(0);
    expect(cell(r, row, 'lost')).to.equal(0);
    expect(cell(r, row, 'failed requests')).to.equal(0);
  });

  it('store-failover: nothing is lost and the outage window is measured', async () => {
    const r = await EXPERIMENTS['store-failover']!.run(30);
    expectShape(r, 'store-failover', 1);
    const row = r.rows[0]!;
    expect(cell(r, row, 'lost')).to.equal(0);
    expect(cell(r, row, 'requests served')).to.be.greaterThan(0);
    // Sentinel needs its down-after time (1 s) before it promotes: there is an outage, and it ends.
    expect(cell(r, row, 'requests failed (503)')).to.be.greaterThan(0);
    expect(cell(r, row, 'outage window (ms)')).to.be.within(500, 30_000);
  });

  it('cluster-cost: every node holds every session; what a node receives grows with sessions, the wire with nodes', async () => {
    const r = await EXPERIMENTS['cluster-cost']!.run(200);
    expectShape(r, 'cluster-cost', 9);
    const at = (nodes: number, sessions: number) => r.rows.find((row) => cell(r, row, 'nodes') === nodes && cell(r, row, 'sessions') === sessions)!;
    for (const nodes of [2, 3, 5]) {
      expect(cell(r, at(nodes, 200), 'KB received per node')).to.be.greaterThan(cell(r, at(nodes, 20), 'KB received per node'));
      expect(cell(r, at(nodes, 200), 'frames received per node')).to.be.greaterThan(0);
    }
    expect(cell(r, at(5, 200), 'KB on the wire (all nodes)')).to.be.greaterThan(cell(r, at(2, 200), 'KB on the wire (all nodes)'));
  });

  it('algorithms: round robin gives the slow node its third, the load-aware ones less, ip-hash one node', async () => {
    const r = await EXPERIMENTS.algorithms!.run(300);
    expectShape(r, 'algorithms', 5);
    const slow = 'node-3 % (slow, 100 ms)';
    const row = (name: string) => r.rows.find((x) => x[0] === name)!;
    expect(cell(r, row('round-robin'), slow)).to.be.within(30, 37);
    expect(cell(r, row('least-connections'), slow)).to.be.lessThan(cell(r, row('round-robin'), slow));
    expect(cell(r, row('least-response-time'), slow)).to.be.lessThan(cell(r, row('round-robin'), slow));
    expect(Math.max(...[1, 2, 3].map((i) => Number(row('ip-hash')[i])))).to.equal(100);
    for (const x of r.rows) expect(cell(r, x, 'p99 ms')).to.be.at.least(cell(r, x, 'p50 ms'));
  });
});
