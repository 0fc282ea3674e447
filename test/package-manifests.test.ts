import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { BUILTIN_STORE_PACKAGES, BUILTIN_TRANSPORT_PACKAGES, CLUSTER_PACKAGE } from '@scaleout/core';

// What a published package needs from the app's node_modules must be written in its manifest:
// a bare import that only the workspace root provides works here and breaks in a real install.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = readdirSync(join(ROOT, 'packages')).filter((name) => statSync(join(ROOT, 'packages', name)).isDirectory());

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  engines?: { node?: string };
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function manifest(pkg: string): Manifest {
  return JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as Manifest;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The package names `src` imports, split by whether the import is `import type` only. */
function imports(pkg: string): { value: Set<string>; typeOnly: Set<string> } {
  const value = new Set<string>();
  const typed = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'packages', pkg, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^'.][^']*)'/gms)) {
      const spec = m[3]!;
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      (m[2] ? typed : value).add(name);
    }
  }
  for (const name of value) typed.delete(name);
  return { value, typeOnly: typed };
}

describe('package manifests', () => {
  for (const pkg of PACKAGES) {
    it(`${pkg}: every package its source imports is a dependency or a peer`, () => {
      const m = manifest(pkg);
      const declared = { ...m.dependencies, ...m.peerDependencies };
      const { value, typeOnly } = imports(pkg);
      for (const name of [...value, ...typeOnly]) expect(declared, `${m.name} imports ${name}`).to.have.property(name);
      for (const name of value) {
        expect(m.peerDependenciesMeta?.[name]?.optional, `${m.name} loads ${name} at run time, so it cannot be optional`).to.not.equal(true);
      }
    });
  }

  it('the clients users bring (ioredis, hazelcast-client, express, koa, express-session) are peers, optional where only types are used', () => {
    const peers = (pkg: string) => manifest(pkg).peerDependencies ?? {};
    const optional = (pkg: string, name: string) => manifest(pkg).peerDependenciesMeta?.[name]?.optional === true;
    expect(peers('redis')).to.have.property('ioredis');
    expect(peers('hazelcast')).to.have.property('hazelcast-client');
    expect(peers('express')).to.include.keys('express', 'express-session');
    expect(peers('koa')).to.have.property('koa');
    expect(optional('express', 'express')).to.equal(true);
    expect(optional('koa', 'koa')).to.equal(true);
    for (const [pkg, name] of [['redis', 'ioredis'], ['hazelcast', 'hazelcast-client'], ['express', 'express-session']] as const) {
      expect(manifest(pkg).dependencies ?? {}, `${name} is the user's copy, not ours`).to.not.have.property(name);
    }
  });

  it('core declares every backend package createStrategy loads by name as an optional peer', () => {
    const loaded = [...new Set([...Object.values(BUILTIN_STORE_PACKAGES), ...Object.values(BUILTIN_TRANSPORT_PACKAGES), CLUSTER_PACKAGE])];
    expect(loaded).to.have.members(['@scaleout/redis', '@scaleout/hazelcast', '@scaleout/cluster']);
    const core = manifest('core');
    for (const name of loaded) {
      expect(core.peerDependencies, name).to.have.property(name);
      expect(core.peerDependenciesMeta?.[name]?.optional, name).to.equal(true);
    }
  });

  it('the @types packages that a published .d.ts imports are dependencies of that package', () => {
    // Types-only imports of packages without bundled types: their @types package ships with us.
    const needsTypes: Record<string, string[]> = { core: ['cookie'], express: ['express', 'express-session'], koa: ['koa'] };
    for (const [pkg, names] of Object.entries(needsTypes)) {
      for (const name of names) expect(manifest(pkg).dependencies, `${pkg} → @types/${name}`).to.have.property(`@types/${name}`);
    }
  });
});

describe('package entry points', () => {
  for (const pkg of PACKAGES) {
    it(`${pkg}: exports carry types, the source condition is scoped, and older resolvers find main and types`, () => {
      const m = JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as {
        main?: string;
        types?: string;
        files?: string[];
        scripts?: Record<string, string>;
        exports: Record<string, Record<string, string> | string>;
        imports?: Record<string, Record<string, string>>;
      };
      const entries = [m.exports['.'], ...Object.values(m.imports ?? {})] as Record<string, string>[];
      for (const entry of entries) {
        // A generic "source" would hand .ts files to any app that runs with --conditions=source.
        expect(Object.keys(entry)).to.deep.equal(['@scaleout/source', 'types', 'default']);
        expect(entry.types).to.match(/^\.\/dist\/.*\.d\.ts$/);
      }
      expect(m.main).to.equal((m.exports['.'] as Record<string, string>).default);
      expect(m.types).to.equal((m.exports['.'] as Record<string, string>).types);
      expect(m.files).to.include('dist');
      expect(m.scripts?.prepack, 'prepack builds dist/ from a clean state').to.match(/clean.*build/);
    });
  }
});

describe('engines', () => {
  it('every package states the Node.js lines that .ci/run tests, and CI runs each of them', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    for (const pkg of PACKAGES) expect(manifest(pkg), pkg).to.have.nested.property('engines.node', root.engines.node);
    const stated = root.engines.node.split('||').map((r) => r.trim().replace(/^\^/, '').replace(/\.0$/, '').split('.')[0]);
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    const tested = [...ci.matchAll(/with-node\.sh (\d+)/g)].map((m) => m[1]);
    expect(tested).to.have.members(stated);
  });
});
