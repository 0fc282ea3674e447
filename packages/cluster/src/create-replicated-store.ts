import { ConfigError, registerTransportType, resolveTransportSection, type PluginContext, type SessionStore } from '@scaleout/core';
import { inProcessTransportConfigSchema } from './in-process-transport-config.js';
import { InProcessTransport } from './in-process-transport.js';
import { ReplicatedStore } from './replicated-store.js';

// Importing the package makes `cluster.transport.type: "in-process"` known; the other transport
// types are registered by their packages (@scaleout/redis, @scaleout/hazelcast, or the one a
// config names in `cluster.transport.package`), which core loads when a config asks for one.
registerTransportType('in-process', { schema: inProcessTransportConfigSchema, createTransport: async (options) => new InProcessTransport({ bus: options.bus }) });

/**
 * The `cluster` strategy's store (the `ClusterPlugin` contract of `createStrategy`): builds the
 * transport `config.cluster.transport` names, found through core's registry and validated by its
 * type's schema, and resolves once this node is ready, that is once it holds a snapshot of its
 * peers or found itself the first node.
 */
export async function createReplicatedStore(context: PluginContext): Promise<SessionStore> {
  const cluster = context.config.cluster;
  if (!cluster) throw new ConfigError('cluster', 'config cluster: missing; the cluster strategy needs cluster.transport');
  const { type, options, section } = await resolveTransportSection(cluster.transport);
  cluster.transport = section;
  const transport = await type.createTransport(options, context);
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
