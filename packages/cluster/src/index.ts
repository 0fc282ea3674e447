/**
 * `@scaleout/cluster`: every node holds every session, kept in sync over a transport.
 * @module
 */
export * from './errors.js';
export * from './hybrid-clock.js';
export { FrameCodec, type FrameHeader } from './frame.js';
export { MessageType } from './messages.js';
export { DIGEST_BUCKETS, type EntryState } from './replica-state.js';
export type { ReplicationCounters } from './node-link.js';
export * from './replicated-store-options.js';
export * from './replicated-store.js';
export * from './in-process-transport.js';
export * from './in-process-transport-config.js';
export * from './create-replicated-store.js';
export * from './metrics.js';
