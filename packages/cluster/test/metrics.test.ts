import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ErrorCodes } from '@scaleout/core';
import { metrics } from '@scaleout/cluster';
import { eventually } from '@scaleout/harness';
import { parsePrometheusText, sampleValue } from '../../../test/support/prometheus.js';
import { closeNodes, startNodes, type TestNode } from './nodes.js';

describe('cluster metrics', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await closeNodes(nodes);
    nodes = [];
  });

  it('reports replication lag, frames, dropped frames, peers and sessions of two nodes on one registry', async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes.map((n) => n.store);
    const registry = new Registry();
    metrics(registry, { store: a! });
    metrics(registry, { store: b! });
    expect(() => metrics(registry, { store: b! })).to.throw().with.property('code', ErrorCodes.METRICS_REGISTERED);
    const receivedBefore = b!.stats().writeFramesReceived;
    await a!.set('s1', { v: 1 }, 60_000);
    await eventually(async () => Boolean(await b!.get('s1')), 2000, 'replication');
    b!.receive(new Uint8Array([1, 2, 3])); // a frame that does not parse
    b!.receive(new Uint8Array(16 * 1024 * 1024)); // larger than maxMessageBytes
    await eventually(() => a!.stats().peers.length === 1 && b!.stats().peers.length === 1, 5000, 'peers heard');
    const f = parsePrometheusText(await registry.metrics());
    const B = { node: b!.nodeId };
    expect(sampleValue(f, 'scaleout_cluster_replication_lag_seconds_count', B)).to.equal(1);
    expect(sampleValue(f, 'scaleout_cluster_frames_total', { ...B, direction: 'received', kind: 'writes' })).to.equal(receivedBefore + 1);
    expect(sampleValue(f, 'scaleout_cluster_frames_total', { node: a!.nodeId, direction: 'sent', kind: 'writes' })).to.equal(a!.stats().writeFrames);
    expect(sampleValue(f, 'scaleout_cluster_dropped_frames_total', { ...B, reason: 'malformed' })).to.equal(1);
    expect(sampleValue(f, 'scaleout_cluster_dropped_frames_total', { ...B, reason: 'oversized' })).to.equal(1);
    expect(sampleValue(f, 'scaleout_cluster_dropped_frames_total', { node: a!.nodeId, reason: 'malformed' })).to.equal(0);
    expect(sampleValue(f, 'scaleout_cluster_peers', B)).to.equal(1);
    expect(sampleValue(f, 'scaleout_cluster_gaps_total', B)).to.equal(b!.stats().gaps);
    expect(sampleValue(f, 'scaleout_cluster_resyncs_total', B)).to.equal(b!.stats().resyncs);
    expect(sampleValue(f, 'scaleout_store_sessions', { ...B, store: 'cluster' })).to.equal(1);
    expect(sampleValue(f, 'scaleout_store_operation_duration_seconds_count', { node: a!.nodeId, store: 'cluster', op: 'set' })).to.equal(1);
  });
});
