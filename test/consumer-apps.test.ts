import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { type RedisClusterSet, startRedisCluster, tempDir } from '@scaleout/harness';

// The packages as a user gets them: every workspace package packed (prepack builds dist/), then
// fresh apps in the system's temp folder, far from the workspace's node_modules, that install
// only those tarballs and packages from the public registry. Each app runs on the Node.js that
// runs this suite, so the CI matrix covers the apps too.

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKSPACE_IOREDIS = (JSON.parse(readFileSync(join(ROOT, 'node_modules/ioredis/package.json'), 'utf8')) as { version: string }).version;
const TYPESCRIPT = (JSON.parse(readFileSync(join(ROOT, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }).version;
// ioredis releases other than the workspace's: the app's own, and a second copy whose classes
// are not the ones @scaleout/redis imports.
const APP_IOREDIS = '5.6.1';
const OTHER_IOREDIS = '5.9.3';

/** Fetches `/` twice, the second time with the cookies of the first, and prints both bodies. */
const TWO_REQUESTS = `
async function twoRequests(port) {
  const url = 'http://127.0.0.1:' + port + '/';
  const first = await fetch(url);
  const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  console.log(await first.text());
  const second = await fetch(url, { headers: { cookie } });
  console.log(await second.text());
}
`;

const STRATEGY = `{ strategy: 'sticky', nodeId: 'node-1', secret: ['consumer-secret'] }`;

/** Serves and checks one session, then stops; the same in an ES module and in a CommonJS function. */
const EXPRESS_APP = `
${TWO_REQUESTS}
const strategy = await createStrategy(${STRATEGY});
const app = express();
app.use(session(strategy));
app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.send('views: ' + req.session.views);
});
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
await twoRequests(server.address().port);
server.close();
await strategy.close();
`;

const EXPRESS_ESM = `
import { once } from 'node:events';
import express from 'express';
import { createStrategy } from '@scaleout/core';
import { session } from '@scaleout/express';
${EXPRESS_APP}`;

const EXPRESS_CJS = `
const { once } = require('node:events');
const express = require('express');
const { createStrategy } = require('@scaleout/core');
const { session } = require('@scaleout/express');
async function main() {
${EXPRESS_APP}
}
main().catch((err) => { console.error(err); process.exitCode = 1; });
`;

const KOA = `
import { once } from 'node:events';
import Koa from 'koa';
import { createStrategy } from '@scaleout/core';
import { session } from '@scaleout/koa';
${TWO_REQUESTS}
const strategy = await createStrategy(${STRATEGY});
const app = new Koa();
app.use(session(strategy, app));
app.use((ctx) => {
  ctx.session.views = (ctx.session.views ?? 0) + 1;
  ctx.body = 'views: ' + ctx.session.views;
});
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
await twoRequests(server.address().port);
server.close();
await strategy.close();
`;

const TYPESCRIPT_APP = `
import express from 'express';
import Koa from 'koa';
import { Redis } from 'ioredis';
import { createStrategy, MemoryStore, type Strategy } from '@scaleout/core';
import { session, regenerate, type ScaleoutExpressOptions } from '@scaleout/express';
import { session as koaSession } from '@scaleout/koa';
import { RedisStore } from '@scaleout/redis';

declare module 'express-session' {
  interface SessionData { views: number }
}

const strategy: Strategy = await createStrategy({ strategy: 'sticky', nodeId: 'node-1', secret: ['s'] });
// @ts-expect-error the published types know createStrategy's config: a node id is a string
await createStrategy({ strategy: 'sticky', nodeId: 1, secret: ['s'] });
const options: ScaleoutExpressOptions = { name: 'sid', rolling: true };
const app = express();
app.use(session(strategy, options));
app.get('/', async (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  const views: number = req.session.views;
  await regenerate(req, { keep: true });
  res.send(String(views));
});
const koa = new Koa();
koa.use(koaSession(strategy, koa));
koa.use((ctx) => { ctx.body = String(ctx.session?.views); });
const store = new RedisStore({ client: new Redis({ lazyConnect: true }), prefix: 'sess:' });
const memory = new MemoryStore();
const sizes: Promise<number>[] = [store.size(), memory.size()];
void sizes;
`;

const REDIS_CLUSTER_APP = `
import { Cluster } from 'ioredis';
import Other from 'ioredis-other';
import { RedisStore } from '@scaleout/redis';

const nodes = JSON.parse(process.env.CLUSTER_NODES);
const clients = { app: Cluster, 'second copy': Other.Cluster };
const result = {};
for (const [label, ClusterClass] of Object.entries(clients)) {
  const client = new ClusterClass(nodes, { enableOfflineQueue: true });
  const store = new RedisStore({ client, prefix: 'consumer-' + label.replace(' ', '-') + ':', ownsClient: true });
  const written = [];
  for (let i = 0; i < 30; i++) {
    const id = 'session-' + label.replace(' ', '-') + '-' + i;
    await store.set(id, { i }, 60_000);
    written.push(id);
  }
  const ids = [];
  for await (const id of store.ids()) ids.push(id);
  result[label] = { written: written.sort(), ids: ids.sort(), size: await store.size(), version: ClusterClass === Cluster ? 'app' : 'other' };
  await store.close();
}
console.log(JSON.stringify(result));
`;

interface App {
  dir: string;
  /** `npm install` arguments after the tarballs. */
  packages: string[];
  type: 'module' | 'commonjs';
  files: Record<string, string>;
}

describe('consumer apps outside the workspace, on the packed tarballs', function () {
  this.timeout(600_000);
  const tmp = tempDir('consumer');
  const tarballs: Record<string, string> = {};
  const apps: Record<string, App> = {};
  let cluster: RedisClusterSet | undefined;

  const tarball = (name: string) => {
    const file = tarballs[name];
    if (!file) throw new Error(`no tarball for ${name}`);
    return file;
  };

  const app = (name: string, scaleout: string[], packages: string[], type: App['type'], files: Record<string, string>): App => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }));
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    const entry: App = { dir, packages: [...scaleout.map(tarball), ...packages], type, files };
    apps[name] = entry;
    return entry;
  };

  const node = (a: App, file: string, env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [file], { cwd: a.dir, env: { ...process.env, ...env, NODE_OPTIONS: '' }, timeout: 60_000 });

  before(async () => {
    const packs = join(tmp.dir, 'tarballs');
    mkdirSync(packs);
    const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces.filter((w) => w.startsWith('packages/'));
    // One npm pack for every package, in the workspaces' dependency order: each prepack builds
    // dist/ from a clean state against the packages built before it.
    await run('npm', ['pack', '--silent', '--pack-destination', packs, ...workspaces.flatMap((w) => ['--workspace', w])], { cwd: ROOT, maxBuffer: 16 << 20 });
    for (const file of readdirSync(packs)) {
      const m = /^scaleout-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(file);
      if (m) tarballs[m[1]!] = join(packs, file);
    }
    expect(Object.keys(tarballs)).to.have.members(workspaces.map((w) => w.replace('packages/', '')));

    app('express5-esm', ['core', 'express'], ['express@^5'], 'module', { 'server.js': EXPRESS_ESM });
    app('express4-cjs', ['core', 'express'], ['express@^4'], 'commonjs', { 'server.js': EXPRESS_CJS });
    app('koa2', ['core', 'koa'], ['koa@^2'], 'module', { 'server.js': KOA });
    app('koa3', ['core', 'koa'], ['koa@^3'], 'module', { 'server.js': KOA });
    // skipLibCheck as apps set it: @types/koa 3 fails to check against the content-disposition
    // types Express 5 installs, an error between two third-party packages. The app's own code is
    // still checked against the published .d.ts files, and the @ts-expect-error line fails if
    // those types ever resolve to any.
    const ts = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] };
    app('typescript', ['core', 'express', 'koa', 'redis'], ['express@^5', 'koa@^3', `ioredis@${WORKSPACE_IOREDIS}`, `typescript@${TYPESCRIPT}`, '@types/node@^20.19.0'], 'module', {
      'app.ts': TYPESCRIPT_APP,
      'tsconfig.node16.json': JSON.stringify({ compilerOptions: { ...ts, module: 'node16', moduleResolution: 'node16' }, files: ['app.ts'] }),
      'tsconfig.bundler.json': JSON.stringify({ compilerOptions: { ...ts, module: 'esnext', moduleResolution: 'bundler' }, files: ['app.ts'] }),
    });
    app('redis-cluster', ['core', 'redis'], [`ioredis@${APP_IOREDIS}`, `ioredis-other@npm:ioredis@${OTHER_IOREDIS}`], 'module', { 'server.js': REDIS_CLUSTER_APP });

    // One install per app, all at once, through npm's one shared cache.
    const [started] = await Promise.all([
      startRedisCluster({ masters: 3, replicasPerMaster: 0 }),
      ...Object.values(apps).map((a) =>
        run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...a.packages], { cwd: a.dir, maxBuffer: 16 << 20 }),
      ),
    ]);
    cluster = started;
  });

  after(async () => {
    await cluster?.stop();
    tmp.remove();
  });

  it('every app lives outside the workspace and resolves the packed @scaleout packages from its own node_modules', () => {
    for (const a of Object.values(apps)) {
      expect(a.dir.startsWith(ROOT)).to.equal(false);
      const core = JSON.parse(readFileSync(join(a.dir, 'node_modules/@scaleout/core/package.json'), 'utf8')) as { version: string };
      expect(core.version).to.equal('0.1.0');
      expect(readdirSync(join(a.dir, 'node_modules/@scaleout/core/dist'))).to.include('index.js');
    }
  });

  for (const name of ['express5-esm', 'express4-cjs', 'koa2', 'koa3']) {
    it(`${name}: starts, serves one session across two requests, and stops`, async () => {
      const { stdout } = await node(apps[name]!, 'server.js');
      expect(stdout.trim().split('\n')).to.deep.equal(['views: 1', 'views: 2']);
    });
  }

  for (const resolution of ['node16', 'bundler']) {
    it(`a TypeScript app typechecks under moduleResolution "${resolution}"`, async () => {
      const a = apps['typescript']!;
      const tsc = join(a.dir, 'node_modules/typescript/bin/tsc');
      const out = await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], { cwd: a.dir }).catch((err: { stdout: string }) => err);
      expect(out.stdout).to.equal('');
    });
  }

  it(`an app on ioredis ${APP_IOREDIS} (not the workspace's) and a second ioredis copy gets ids() and size() right on a Redis Cluster`, async () => {
    expect(APP_IOREDIS).to.not.equal(WORKSPACE_IOREDIS);
    const a = apps['redis-cluster']!;
    const installed = JSON.parse(readFileSync(join(a.dir, 'node_modules/ioredis/package.json'), 'utf8')) as { version: string };
    expect(installed.version).to.equal(APP_IOREDIS);
    const nodes = cluster!.addresses.map((address) => ({ host: address.split(':')[0], port: Number(address.split(':')[1]) }));
    const { stdout } = await node(a, 'server.js', { CLUSTER_NODES: JSON.stringify(nodes) });
    const result = JSON.parse(stdout) as Record<string, { written: string[]; ids: string[]; size: number }>;
    expect(Object.keys(result)).to.deep.equal(['app', 'second copy']);
    for (const [label, r] of Object.entries(result)) {
      expect(r.ids, label).to.deep.equal(r.written);
      expect(r.size, label).to.equal(30);
    }
  });
});
