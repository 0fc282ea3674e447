import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import { createStrategy, MemoryStore, RouteCookie, RouteTable, type Strategy } from '@scaleout/core';
import { InProcessTransport, ReplicatedStore } from '@scaleout/cluster';
import { buildApp, type Framework } from './support/apps.js';
import { cookieOf } from './support/session-behaviour.js';
import { eventually } from '@scaleout/harness';

// The rotation procedure of docs/security.md, run as a rolling deploy does: nodes and proxies on
// adjacent steps run side by side, and every pair must keep accepting each other's cookies, route
// tags and replication frames. Step 1 adds the new secret last, step 2 moves it first, step 3
// drops the old one.
const OLD = 'rotation-old-secret';
const NEW = 'rotation-new-secret';
const STEP = { 0: [OLD], 1: [OLD, NEW], 2: [NEW, OLD], 3: [NEW] } as const;
type Step = keyof typeof STEP;

describe('security: secret rotation in three deploys', function () {
  this.timeout(30_000);

  describe('session cookies between an Express and a Koa node over one store', function () {
    const shared = new MemoryStore();
    const strategies: Strategy[] = [];
    after(async () => {
      await Promise.all(strategies.map((s) => s.close()));
      await shared.close();
    });

    /** A node at `step` of the rotation, on the shared store. */
    async function node(step: Step, framework: Framework) {
      const s = await createStrategy({ secret: [...STEP[step]], strategy: 'store', nodeId: `rot-${framework}-${step}` });
      strategies.push(s);
      return { app: buildApp(framework, { ...s, store: shared }), name: s.session.cookieName };
    }

    const pairs: Array<[Step, Step]> = [[0, 1], [1, 2], [2, 3]];
    for (const [a, b] of pairs) {
      it(`a session started on a step-${a} node goes on on a step-${b} node and back`, async function () {
        const older = await node(a, 'express');
        const newer = await node(b, 'koa');
        const first = await request(older.app).get('/count').expect(200);
        let cookie = cookieOf(first, older.name)!;
        const second = await request(newer.app).get('/count').set('Cookie', cookie).expect(200);
        expect(second.body.count, `step ${a} cookie on a step ${b} node`).to.equal(2);
        cookie = cookieOf(second, newer.name) ?? cookie;
        const third = await request(older.app).get('/count').set('Cookie', cookie).expect(200);
        expect(third.body.count, `step ${b} cookie back on a step ${a} node`).to.equal(3);
      });
    }

    it('skipping step 1 loses sessions during the deploy: a step-0 node refuses a step-2 node\'s cookie', async function () {
      const old = await node(0, 'express');
      const rotated = await node(2, 'koa');
      const cookie = cookieOf(await request(rotated.app).get('/count').expect(200), rotated.name)!;
      const res = await request(old.app).get('/count').set('Cookie', cookie).expect(200);
      expect(res.body.count).to.equal(1);
    });

    it('after step 3, a cookie signed with the old secret no longer opens its session', async function () {
      const before = await node(0, 'express');
      const after = await node(3, 'express');
      const cookie = cookieOf(await request(before.app).get('/count').expect(200), before.name)!;
      const res = await request(after.app).get('/count').set('Cookie', cookie).expect(200);
      expect(res.body.count).to.equal(1);
    });
  });

  describe('route tags between nodes and proxies', function () {
    const pairs: Array<[Step, Step]> = [[0, 1], [1, 2], [2, 3]];
    for (const [a, b] of pairs) {
      it(`a proxy at step ${a} and one at step ${b} both resolve the tags of nodes at steps ${a} and ${b}`, function () {
        for (const nodeStep of [a, b]) {
          const tag = new RouteCookie('node-1', STEP[nodeStep]).value;
          for (const proxyStep of [a, b]) {
            expect(new RouteTable(['node-1', 'node-2'], STEP[proxyStep]).resolve(tag), `node step ${nodeStep}, proxy step ${proxyStep}`).to.equal('node-1');
          }
        }
      });
    }

    it('a node re-writes a client\'s route cookie signed with a retired secret', function () {
      const rc = new RouteCookie('node-1', STEP[2]);
      const old = new RouteCookie('node-1', STEP[1]).value;
      expect(rc.matches(old)).to.equal(true);
      expect(rc.needsSet(old)).to.equal(true);
      expect(rc.needsSet(rc.value)).to.equal(false);
    });
  });

  describe('replication between cluster nodes', function () {
    const stores: ReplicatedStore[] = [];
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
    });

    async function start(bus: string, nodeId: string, step: Step): Promise<ReplicatedStore> {
      const store = new ReplicatedStore({ nodeId, secret: [...STEP[step]], transport: new InProcessTransport({ bus }), discoveryWait: 100, antiEntropyInterval: 60_000 });
      stores.push(store);
      await store.start();
      return store;
    }

    const pairs: Array<[Step, Step]> = [[0, 1], [1, 2], [2, 3]];
    for (const [a, b] of pairs) {
      it(`a step-${a} node and a step-${b} node replicate both ways`, async function () {
        const bus = `rotation-${randomUUID()}`;
        const older = await start(bus, 'node-a', a);
        const newer = await start(bus, 'node-b', b);
        await older.set('from-older', { v: 1 }, 60_000);
        await newer.set('from-newer', { v: 2 }, 60_000);
        await eventually(async () => (await newer.get('from-older'))?.v === 1 && (await older.get('from-newer'))?.v === 2, 3000, `replication between steps ${a} and ${b}`);
        expect(older.stats().dropped.forged + newer.stats().dropped.forged).to.equal(0);
      });
    }

    it('a node that has dropped the old secret refuses what a step-1 node signs', async function () {
      const bus = `rotation-${randomUUID()}`;
      const step1 = await start(bus, 'node-a', 1);
      const step3 = await start(bus, 'node-c', 3);
      await step1.set('signed-with-old', { v: 1 }, 60_000);
      await eventually(() => step3.stats().dropped.forged > 0, 3000, 'a forged count');
      expect(await step3.get('signed-with-old')).to.equal(undefined);
    });
  });
});
