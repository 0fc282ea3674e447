import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Each server the harness starts, asked for in a child process whose PATH holds only `present`:
// the run fails with the coded error and says how to provision, never skips.
const STARTERS: { missing: string; call: string; present?: string; message: RegExp }[] = [
  { missing: 'redis-server', call: 'startRedis()', message: /redis-server is not installed; run: npm run provision \(bash scripts\/provision\.sh/ },
  { missing: 'redis-sentinel', call: 'startRedisSentinel({ replicas: 0, sentinels: 1 })', present: 'redis-server', message: /redis-sentinel is not installed; run: npm run provision/ },
  { missing: 'the Hazelcast member jar', call: 'startHazelcast()', message: /the Hazelcast member jar \(\/nonexistent\/hazelcast\.jar\) is not installed; run: npm run provision/ },
  { missing: 'haproxy', call: "startHaproxy('', 1)", message: /haproxy is not installed; run: npm run provision/ },
  { missing: 'nginx', call: "startNginx('', 1)", message: /nginx is not installed; run: npm run provision/ },
];

function which(binary: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${binary} is not installed; run: npm run provision`);
  return r.stdout.trim();
}

describe('@scaleout/harness without the servers installed', function () {
  this.timeout(30_000);
  const bins: string[] = [];
  after(() => {
    for (const bin of bins) rmSync(bin, { recursive: true, force: true });
  });

  for (const { missing, call, present, message } of STARTERS) {
    it(`fails ${call} with ERR_SCALEOUT_HARNESS_SERVER_MISSING when ${missing} is missing`, () => {
      const bin = mkdtempSync(join(tmpdir(), 'scaleout-nobin-'));
      bins.push(bin);
      if (present) symlinkSync(which(present), join(bin, present));
      const script = `import * as h from '@scaleout/harness';
try { await h.${call}; console.log('STARTED'); process.exit(0); }
catch (err) { console.log(err.code, err.message); process.exit(3); }`;
      const r = spawnSync(process.execPath, ['--conditions=@scaleout/source', '--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        env: { ...process.env, PATH: bin, HAZELCAST_JAR: '/nonexistent/hazelcast.jar' },
        encoding: 'utf8',
        timeout: 25_000,
      });
      const out = `${r.stdout}${r.stderr}`;
      expect(r.status, out).to.equal(3);
      expect(out).to.include('ERR_SCALEOUT_HARNESS_SERVER_MISSING');
      expect(out).to.match(message);
    });
  }
});
