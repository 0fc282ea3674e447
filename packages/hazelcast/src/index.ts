/**
 * `@scaleout/hazelcast`: a session store on a Hazelcast IMap and a reliable-topic transport.
 * @module
 */
export * from './hazelcast-store.js';
export * from './create-store.js';
export * from './hazelcast-config.js';
export * from './errors.js';
export { clientConfig, connectHazelcast, describeTarget, type HazelcastClient } from './hazelcast-client.js';
export * from './hazelcast-transport.js';
export * from './metrics.js';
import './register-types.js';
