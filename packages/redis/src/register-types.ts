import { registerStoreType, registerTransportType } from '@scaleout/core';
import { createStore } from './create-store.js';
import { redisStoreConfigSchema } from './redis-store-options.js';
import { redisTransportConfigSchema } from './redis-transport-config.js';
import { createTransport } from './redis-transport.js';

// Importing the package makes `store.type: "redis"` and `cluster.transport.type: "redis"` known
// to createStrategy(), which imports it by name when a config asks for either.
registerStoreType('redis', { schema: redisStoreConfigSchema, createStore });
registerTransportType('redis', { schema: redisTransportConfigSchema, createTransport });
