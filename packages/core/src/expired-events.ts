import type { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import type { ScaleoutConfig } from './config.js';
import { ConfigError } from './errors.js';
import type { SessionStore, StrategyKind } from './types.js';

const debug = debuglog('scaleout:expired-events');

function refuseOnce(where: string): ConfigError {
  return new ConfigError(
    'sessions.events',
    `config sessions.events: got "once"; ${where} cannot deliver an expiry once per fleet (every node sweeps its own sessions, with nothing shared to claim it in), so only "every-node" is allowed; "once" needs strategy "store" on Redis or Hazelcast`,
  );
}

/**
 * Refuses `sessions.events: "once"` before anything is opened where it cannot be offered: the
 * `sticky` and `cluster` strategies and the memory store keep sessions per node.
 */
export function checkEventsOption(config: ScaleoutConfig): void {
  if (config.sessions.events !== 'once') return;
  if (config.strategy === 'sticky' || config.strategy === 'cluster') throw refuseOnce(`the ${config.strategy} strategy`);
  if (config.store.type === 'memory') throw refuseOnce('the memory store');
}

/**
 * Turns the store's `expired` (id, userId?) into the strategy's `session` event. With
 * `sessions.events: "once"`, each node claims the expiry in the store first (`claimExpired`) and
 * only the node that wins emits; a claim that fails (the store unreachable) emits nothing, so an
 * expiry is never announced twice. Returns the function that stops listening.
 */
export function forwardExpired(parts: { kind: StrategyKind; nodeId: string; store: SessionStore; events: EventEmitter; config: ScaleoutConfig }): () => void {
  const { nodeId, store, events, config } = parts;
  const emit = (id: string, userId?: string): void => {
    events.emit('session', { type: 'expired', id, ...(userId !== undefined && { userId }), at: Date.now() });
  };
  let onExpired = emit;
  if (config.sessions.events === 'once') {
    const claim = store.claimExpired?.bind(store);
    if (!claim) throw refuseOnce(`the ${parts.kind} strategy on ${store.constructor.name}`);
    onExpired = (id, userId) => {
      claim(id, nodeId).then(
        (won) => {
          if (won) emit(id, userId);
        },
        (err: Error) => debug('expired: not claimed, so not emitted: %s', err.message),
      );
    };
  }
  store.on('expired', onExpired);
  return () => store.off('expired', onExpired);
}
