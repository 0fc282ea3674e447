import { registerStoreType, registerTransportType } from '@scaleout/core';
import { createStore } from './create-store.js';
import { hazelcastStoreConfigSchema, hazelcastTransportConfigSchema } from './hazelcast-config.js';
import { createTransport } from './hazelcast-transport.js';

// Importing the package makes `store.type: "hazelcast"` and `cluster.transport.type: "hazelcast"`
// known to createStrategy(), which imports it by name when a config asks for either.
registerStoreType('hazelcast', { schema: hazelcastStoreConfigSchema, createStore });
registerTransportType('hazelcast', { schema: hazelcastTransportConfigSchema, createTransport });
