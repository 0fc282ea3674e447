import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary, startBalancerProcess, type RunningBalancer } from './haproxy.js';

/**
 * Runs `nginx -p <tmp> -c <cfg> -g 'daemon off;'` with `config`: relative paths in it (pid, temp
 * folders) resolve inside the temp folder; `port` is its listen port.
 */
export async function startNginx(config: string, port: number): Promise<RunningBalancer> {
  requireBinary('nginx');
  const dir = await mkdtemp(join(tmpdir(), 'scaleout-nginx-'));
  await mkdir(join(dir, 'tmp'));
  await mkdir(join(dir, 'logs'));
  const cfg = join(dir, 'nginx.conf');
  await writeFile(cfg, config);
  return startBalancerProcess('nginx', ['-p', dir, '-c', cfg, '-g', 'daemon off;'], dir, port);
}
