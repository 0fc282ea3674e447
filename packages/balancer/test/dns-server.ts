import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface ARecord {
  address: string;
  ttl: number;
}
export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
  ttl: number;
}

/** A tiny authoritative DNS server on UDP loopback port 0 answering A and SRV queries from `zone`. */
export interface DnsServer {
  zone: Map<string, { A?: ARecord[]; SRV?: SrvRecord[] }>;
  address: string;
  queries: number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_SRV = 33;

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function answer(type: number, ttl: number, rdata: Buffer): Buffer {
  const ttlBuf = Buffer.alloc(4);
  ttlBuf.writeUInt32BE(ttl);
  return Buffer.concat([u16(0xc00c), u16(type), u16(1), ttlBuf, u16(rdata.length), rdata]);
}

export async function startDnsServer(): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  const server: DnsServer = {
    zone: new Map(),
    address: '',
    queries: 0,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    server.queries++;
    let off = 12;
    const labels: string[] = [];
    while (msg[off]! !== 0) {
      const len = msg[off]!;
      labels.push(msg.toString('ascii', off + 1, off + 1 + len));
      off += len + 1;
    }
    off++;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    const entry = server.zone.get(name);
    const answers: Buffer[] = [];
    if (qtype === TYPE_A) for (const a of entry?.A ?? []) answers.push(answer(TYPE_A, a.ttl, Buffer.from(a.address.split('.').map(Number))));
    if (qtype === TYPE_SRV) {
      for (const s of entry?.SRV ?? []) answers.push(answer(TYPE_SRV, s.ttl, Buffer.concat([u16(s.priority), u16(s.weight), u16(s.port), encodeName(s.target)])));
    }
    const rcode = entry ? 0 : 3; // NXDOMAIN for an unknown name
    const header = Buffer.concat([msg.subarray(0, 2), u16(0x8580 | rcode), u16(1), u16(answers.length), u16(0), u16(0)]);
    socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.address = `127.0.0.1:${(socket.address() as AddressInfo).port}`;
  return server;
}
