import { ConfigError, loadPlugin, type PluginContext, type SessionStore, type Transport, type TransportConfig, type TransportPlugin } from '@scaleout/core';
import { InProcessTransport } from './in-process-transport.js';
import { ReplicatedStore } from './replicated-store.js';

async function transportFor(config: TransportConfig, context: PluginContext): Promise<Transport> {
  switch (config.type) {
    case 'in-process':
      return new InProcessTransport({ bus: config.bus });
    case 'redis': {
      const plugin = await loadPlugin<TransportPlugin>('@scaleout/redis', 'cluster.transport.type "redis"');
      return plugin.createTransport(config, context);
    }
    case 'hazelcast': {
      const plugin = await loadPlugin<TransportPlugin>('@scaleout/hazelcast', 'cluster.transport.type "hazelcast"');
      return plugin.createTransport(config, context);
    }
  }
}

/**
 * The `cluster` strategy's store (the `ClusterPlugin` contract of `createStrategy`): builds the
 * transport `config.cluster.transport` names and resolves once this node is ready, that is
 * once it holds a snapshot of its peers or found itself the first node.
 */
export async function createReplicatedStore(context: PluginContext): Promise<SessionStore> {
  const cluster = context.config.cluster;
  if (!cluster) throw new ConfigError('cluster', 'config cluster: missing; the cluster strategy needs cluster.transport');
  const transport = await transportFor(cluster.transport, context);
  let store: ReplicatedStore;
  try {
    store = new ReplicatedStore({
      nodeId: context.nodeId,
      secret: context.secret,
      transport,
      readyTimeout: cluster.readyTimeout,
      discoveryWait: cluster.discoveryWait,
      antiEntropyInterval: cluster.antiEntropyInterval,
      maxMessageBytes: cluster.maxMessageBytes,
    });
  } catch (err) {
    await transport.close();
    throw err;
  }
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
