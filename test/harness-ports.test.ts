import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { baseRedisArgs, freePort, HarnessErrorCodes, onFreePort, parseReservedPorts, PortInUseError, portRange, redisCommand, startRedisProcess, tempDir, type ServerProcess } from '@scaleout/harness';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) => s.destroy());
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

describe('@scaleout/harness ports: a fixed range below the ephemeral one', function () {
  this.timeout(30_000);
  const tmp = tempDir('ports');
  const servers: Server[] = [];
  const started: ServerProcess[] = [];
  after(async () => {
    for (const s of servers) s.close();
    await Promise.all(started.map((p) => p.stop()));
    tmp.remove();
  });

  describe('portRange()', () => {
    const table: { ephemeral: string; expected: [number, number] | undefined }[] = [
      { ephemeral: '32768\t60999\n', expected: [20_000, 32_767] },
      { ephemeral: '25000 60999', expected: [20_000, 24_999] },
      // Too little room below: the ports above the range.
      { ephemeral: '10000 60000', expected: [60_001, 65_535] },
      { ephemeral: '1024 65535', expected: undefined },
      // Nothing read (no /proc): Linux's default range is assumed.
      { ephemeral: '', expected: [20_000, 32_767] },
    ];
    for (const { ephemeral, expected } of table) {
      it(`ephemeral ${JSON.stringify(ephemeral)} → ${expected ? expected.join('-') : 'port 0'}`, () => {
        const r = portRange(ephemeral, '');
        expect(r && [r.low, r.high]).to.deep.equal(expected);
      });
    }

    it('reads the reserved ports (ip_local_reserved_ports) as single ports and ranges', () => {
      expect([...parseReservedPorts('8080, 20000-20002,bad\n')]).to.deep.equal([8080, 20_000, 20_001, 20_002]);
      expect([...portRange('32768 60999', '20005-20006')!.reserved]).to.deep.equal([20_005, 20_006]);
    });
  });

  describe('freePort()', () => {
    it('gives distinct, bindable ports below this machine\'s ephemeral range and outside its reserved ports', async () => {
      const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
      const range = portRange()!;
      const ports: number[] = [];
      for (let i = 0; i < 20; i++) ports.push(await freePort());
      expect(new Set(ports).size, 'no port given twice').to.equal(ports.length);
      for (const port of ports) {
        expect(port).to.be.within(range.low, range.high);
        expect(port).to.be.below(low!);
        expect(range.reserved.has(port)).to.equal(false);
      }
      // Free: a server binds the last one.
      servers.push(await listen(ports.at(-1)!));
    });

    it('skips a port something listens on', async () => {
      const next = await freePort();
      // The walk goes forward: the port after `next` is the one it would give now, unless taken.
      const taken = await listen(next + 1).catch(() => undefined);
      if (taken) servers.push(taken);
      const port = await freePort();
      expect(port).to.not.equal(next + 1);
      expect(port).to.not.equal(next);
    });
  });

  describe('onFreePort()', () => {
    it('a redis-server whose port was taken fails with PortInUseError, and starts on another port', async () => {
      const taken = await freePort();
      servers.push(await listen(taken));
      const start = (port: number) => startRedisProcess(`redis :${port}`, port, tmp.dir, baseRedisArgs(port, tmp.dir, undefined));

      const err = await start(taken).then(
        (p) => (started.push(p), undefined),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(PortInUseError);
      expect((err as PortInUseError).code).to.equal(HarnessErrorCodes.PORT_IN_USE);
      expect((err as PortInUseError).port).to.equal(taken);

      const tried: number[] = [];
      const redis = await onFreePort((port) => (tried.push(port), start(port)), { first: taken });
      started.push(redis);
      expect(tried[0]).to.equal(taken);
      expect(tried).to.have.length(2);
      expect(redis.port).to.equal(tried[1]);
      expect(await redisCommand(redis.port, undefined, 'PING')).to.equal('PONG');
    });

    it('passes on any other failure at once', async () => {
      let calls = 0;
      const boom = new Error('not a port problem');
      await onFreePort(() => {
        calls++;
        return Promise.reject(boom);
      }).then(
        () => expect.fail('onFreePort resolved'),
        (err: unknown) => expect(err).to.equal(boom),
      );
      expect(calls).to.equal(1);
    });
  });
});
