import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';

// A request whose client gave up (a balancer's timeout answered 504 and the client went on
// elsewhere) must not save what it computed from its stale read over updates acknowledged since.
// Found by the fault matrix (SIGSTOP of an app node); here a slow handler does the same.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const framework of FRAMEWORKS) {
  for (const options of [{}, { lock: { ttl: '5s', wait: '2s' } }]) {
    describe(`an abandoned request through ${framework}${'lock' in options ? ' with lock: true' : ''}`, function () {
      let strategy: Strategy;
      let a: RunningServer;
      let b: RunningServer;
      before(async function () {
        strategy = await createStrategy({ strategy: 'store', nodeId: 'n', secret: 'abandon' });
        [a, b] = await Promise.all([startHttp(buildApp(framework, strategy, options)), startHttp(buildApp(framework, strategy, options))]);
      });
      after(async function () {
        await Promise.all([a?.close(), b?.close()]);
        await strategy?.close();
      });

      it('does not overwrite increments acknowledged after its client left', async function () {
        let cookie = '';
        const count = async (url: string): Promise<number> => {
          const res = await fetch(`${url}/count`, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(5000) });
          const set = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
          if (set) cookie = set.split(';')[0]!;
          expect(res.status).to.equal(200);
          return ((await res.json()) as { count: number }).count;
        };
        expect(await count(a.url)).to.equal(1);
        // Reads the session (count 1), then works 600 ms; its client gives up after 150 ms.
        const abandoned = await fetch(`${b.url}/count?delay=600`, { headers: { cookie }, signal: AbortSignal.timeout(150) }).then(
          () => 'answered',
          () => 'gave up',
        );
        expect(abandoned).to.equal('gave up');
        expect(await count(a.url)).to.equal(2);
        expect(await count(a.url)).to.equal(3);
        await sleep(800); // the abandoned handler finishes meanwhile
        expect(await count(a.url), 'the acknowledged 3 survived').to.equal(4);
      });
    });
  }
}
