import { expect } from 'chai';
import type { Endpoint } from '../src/index.js';
import { drive, useBackends } from './helpers.js';

describe('fetch() with outlier ejection on real servers', () => {
  const fx = useBackends(Array.from({ length: 10 }, () => ({})));

  it('ejects a server that answers 503, sends it nothing while ejected, and takes it back', async () => {
    const [bad, ...good] = fx.backends.slice(0, 3);
    bad!.behaviour.status = 503;
    const b = fx.make({
      endpoints: [bad!.url, ...good.map((x) => x.url)],
      algorithm: 'round-robin',
      outlier: { consecutiveFailures: 3, baseEjectionTime: '700ms' },
      retry: { attempts: 1, backoff: 0, maxBackoff: 0 },
    });
    const events: string[] = [];
    const hitsAt: Record<string, number> = {};
    b.on('eject', (ep: Endpoint) => {
      events.push(`eject ${ep.id === bad!.url}`);
      hitsAt.eject = bad!.hits;
    });
    b.on('uneject', (ep: Endpoint) => {
      events.push(`uneject ${ep.id === bad!.url}`);
      hitsAt.uneject = bad!.hits;
    });

    while (!b.endpoints.get(bad!.url)!.ejected) expect((await b.fetch('/')).status).to.equal(200); // retried elsewhere
    expect(bad!.hits).to.equal(3);
    expect(b.stats().endpoints[0]).to.include({ ejected: true, available: false, ejections: 1 });

    bad!.behaviour.status = 200; // recovered, but still ejected
    while (b.endpoints.get(bad!.url)!.ejected) await (await b.fetch('/')).text();
    expect(hitsAt.uneject, 'nothing reaches an ejected endpoint').to.equal(hitsAt.eject);
    for (let i = 0; i < 30; i++) await (await b.fetch('/')).text();
    expect(bad!.hits).to.be.at.least(3 + 9);
    expect(events).to.deep.equal(['eject true', 'uneject true']);
  });

  it('ejects no more than the configured share when many fail', async () => {
    for (const x of fx.backends.slice(0, 6)) x.behaviour.status = 503;
    const b = fx.make({
      endpoints: fx.backends.map((x) => x.url),
      algorithm: 'round-robin',
      outlier: { consecutiveFailures: 2, maxEjectionPercent: 20, baseEjectionTime: '1m' },
      retry: false,
    });
    await drive(300, 5, async () => void (await b.fetch('/')).body?.cancel());
    const ejected = b.endpoints.all().filter((ep) => ep.ejected);
    expect(ejected).to.have.length(2); // 20% of 10, though 6 fail
    expect(ejected.every((ep) => fx.backends.slice(0, 6).some((x) => x.url === ep.id))).to.equal(true);
    expect(b.endpoints.candidates()).to.have.length(8);
  });
});
