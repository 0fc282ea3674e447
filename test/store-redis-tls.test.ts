import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ErrorCodes } from '@scaleout/core';
import { type RedisStoreConfig, createStore } from '@scaleout/redis';
import { freePort, type RedisServer, startRedis, tempDir, writeFile } from '@scaleout/harness';

/** A CA and a server certificate for 127.0.0.1, made with openssl in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string; caFile: string } {
  const run = (...args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('openssl is not installed (apt-get install openssl); run: npm run provision', { cause: err });
      throw err;
    }
  };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=scaleout test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFile(dir, 'ext.cnf', 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf');
  return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), caFile: join(dir, 'ca.crt') };
}

describe('RedisStore over TLS', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let tlsPort: number;
  let ca: string;
  const certs = tempDir('tls');
  before(async () => {
    const made = makeCertificates(certs.dir);
    ca = made.ca;
    tlsPort = await freePort();
    redis = await startRedis({
      password: 'tls pass',
      extraArgs: ['--tls-port', String(tlsPort), '--tls-cert-file', made.cert, '--tls-key-file', made.key, '--tls-ca-cert-file', made.caFile, '--tls-auth-clients', 'no'],
    });
  });
  after(async () => {
    await redis?.stop();
    certs.remove();
  });

  it('connects to rediss:// with the CA given in the config, and stores sessions', async () => {
    const store = await createStore({ type: 'redis', url: `rediss://:tls%20pass@127.0.0.1:${tlsPort}`, tls: { ca } } as unknown as RedisStoreConfig);
    try {
      await store.set('secure', { over: 'tls' }, 60_000);
      expect(await store.get('secure')).to.deep.equal({ over: 'tls' });
      expect(await redis.command('HGET', 'sess:secure', 'over')).to.equal('"tls"');
    } finally {
      await store.close();
    }
  });

  it('refuses a server certificate it cannot verify at once, with an error naming the address', async () => {
    const started = Date.now();
    const attempt = createStore({ type: 'redis', url: `rediss://:tls%20pass@127.0.0.1:${tlsPort}`, connectTimeout: 5000 } as unknown as RedisStoreConfig);
    await expect(attempt).to.be.rejected.and.eventually.satisfy((err: Error & { code: string }) => {
      expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
      expect(err.message).to.include(`127.0.0.1:${tlsPort} failed TLS`).and.match(/certificate/i);
      return true;
    });
    expect(Date.now() - started).to.be.lessThan(1500);
  });
});
