import type { Topology, TopologyName } from '../topology.js';

/** What an injection did, for the report. */
export interface Injection {
  /** The app node hit, when the fault hits one: its clients' share is what `sticky` may lose. */
  victimNode?: string;
  /** One line: what was done to what. */
  detail: string;
}

/** One kind of failure the matrix injects. */
export interface Fault {
  /** Stable id, as `--faults` takes it. */
  readonly name: string;
  /** What the report's table says. */
  readonly title: string;
  /** The topologies where the fault means something. */
  readonly appliesTo: readonly TopologyName[];
  /**
   * Injects the fault and resolves once it is in place; a transient fault (a pause, a sleep)
   * resolves once it is over. Recovery is timed from the moment this is called.
   */
  inject(topology: Topology): Promise<Injection>;
  /** Brings the topology back to full strength, for the next scenario. */
  restore(topology: Topology): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The app node the node faults hit: an Express node, a third of the clients. */
export const VICTIM_NODE = 'node-2';

/** `what` of a topology that must be there, or a clear error. */
export function need<T>(value: T | undefined, what: string, topology: Topology): T {
  if (value === undefined) throw new Error(`${topology.name} has no ${what}`);
  return value;
}
