/**
 * `@scaleout/hazelcast`: a session store on a Hazelcast IMap and a reliable-topic transport.
 * @module
 */
export {};
