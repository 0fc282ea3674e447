import { expect } from 'chai';
import { createBalancer, type AlgorithmName } from '../src/index.js';
import { drive, startBackends, type Backend } from './helpers.js';

/**
 * Four real servers on loopback, one 50× slower than the others (2 ms vs 100 ms), under
 * concurrent load. Load-aware algorithms keep most traffic off the slow one; round robin,
 * the control, cannot.
 */
describe('fetch() with one slow backend', function () {
  this.timeout(60_000);
  const FAST_MS = 2;
  const SLOW_MS = 100;
  const REQUESTS = 400;
  const CONCURRENCY = 8;
  let backends: Backend[];

  before(async () => {
    backends = await startBackends([{ delayMs: SLOW_MS }, { delayMs: FAST_MS }, { delayMs: FAST_MS }, { delayMs: FAST_MS }]);
  });
  after(async () => Promise.all(backends.map((b) => b.close())));

  async function slowShare(algorithm: AlgorithmName): Promise<number> {
    for (const b of backends) b.hits = 0;
    const lb = createBalancer({ endpoints: backends.map((b) => b.url), algorithm, ewmaDecay: '2s', retry: false, outlier: false });
    try {
      await drive(REQUESTS, CONCURRENCY, async () => void (await (await lb.fetch('/')).text()));
    } finally {
      await lb.close();
    }
    const total = backends.reduce((n, b) => n + b.hits, 0);
    expect(total).to.equal(REQUESTS);
    return backends[0]!.hits / total;
  }

  it('least-response-time sends the slow one under 10% of requests', async () => {
    expect(await slowShare('least-response-time')).to.be.below(0.1);
  });

  it('least-connections sends the slow one less than its share', async () => {
    expect(await slowShare('least-connections')).to.be.below(0.25);
  });

  it('round robin (the control) gives it its full share', async () => {
    expect(await slowShare('round-robin')).to.be.closeTo(0.25, 0.02);
  });
});
