import { randomUUID } from 'node:crypto';
import { FrameCodec } from '../src/frame.js';
import { InProcessTransport } from '../src/in-process-transport.js';
import { MessageType } from '../src/messages.js';
import { ReplicatedStore } from '../src/replicated-store.js';
import type { ReplicatedStoreOptions } from '../src/replicated-store-options.js';

export const SECRET = ['cluster-test-secret'];

export interface TestNode {
  store: ReplicatedStore;
  transport: InProcessTransport;
}

/** Starts `count` nodes on a fresh in-process bus, one after the other (each joins the previous). */
export async function startNodes(count: number, options: Partial<ReplicatedStoreOptions> = {}, bus = `bus-${randomUUID()}`): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startNode(bus, `node-${String.fromCharCode(97 + i)}`, options));
  return nodes;
}

export async function startNode(bus: string, nodeId: string, options: Partial<ReplicatedStoreOptions> = {}): Promise<TestNode> {
  const transport = new InProcessTransport({ bus });
  const store = new ReplicatedStore({ nodeId, secret: SECRET, transport, discoveryWait: 200, antiEntropyInterval: 500, ...options });
  await store.start();
  return { store, transport };
}

export async function closeNodes(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.store.close()));
}

/** Every id and value a store holds, sorted: equal on two nodes when their sessions match. */
export async function contents(store: ReplicatedStore): Promise<string> {
  const out: Array<[string, unknown]> = [];
  for await (const id of store.ids()) out.push([id, await store.get(id)]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return JSON.stringify(out);
}

/** A peer on `bus` that answers every HELLO and then never sends a snapshot. */
export async function mutePeer(bus: string, secret: string): Promise<InProcessTransport> {
  const mute = new InProcessTransport({ bus });
  await mute.start();
  const codec = new FrameCodec([secret]);
  let seq = 0;
  mute.on('message', (m: Buffer) => {
    const f = codec.parse(m);
    if (f.header.type !== MessageType.HELLO) return;
    const body = Buffer.concat([m.subarray(f.bodyStart, f.bodyEnd), Buffer.alloc(4)]);
    void mute.publish(codec.encode({ type: MessageType.HELLO_ACK, origin: 'mute', incarnation: 1, seq: ++seq, prev: 0, to: f.header.origin, ts: Date.now() }, body));
  });
  return mute;
}
