import { createStrategy } from '@scaleout/core';
import { describeSessionBehaviour } from './support/session-behaviour.js';

const secret = ['test-secret-newest', 'test-secret-older'];

describeSessionBehaviour('sticky strategy', () => createStrategy({ strategy: 'sticky', nodeId: 'node-a', secret }));
describeSessionBehaviour('store strategy on memory', () => createStrategy({ strategy: 'store', nodeId: 'node-a', secret, store: { type: 'memory' } }));
