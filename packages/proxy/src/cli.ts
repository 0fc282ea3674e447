import { parseArgs } from 'node:util';
import { ConfigError, ScaleoutError } from '@scaleout/core';
import { loadProxyConfig } from './config.js';
import { exportHaproxy } from './export-haproxy.js';
import { exportKeepalived } from './export-keepalived.js';
import { exportNginx } from './export-nginx.js';
import { keepalivedOptions, KEEPALIVED_ARGS, KEEPALIVED_USAGE } from './cli-keepalived.js';
import { createProxy } from './proxy.js';

const USAGE = `Usage:
  scaleout-proxy --config proxy.json              run the proxy (SIGTERM/SIGINT: graceful stop)
  scaleout-proxy export haproxy --config proxy.json   print an equivalent HAProxy config
  scaleout-proxy export nginx --config proxy.json     print an equivalent nginx config
${KEEPALIVED_USAGE}
SIGUSR2 drains a running proxy: its health endpoint fails (so keepalived moves the address to
the peer) while it keeps serving what still reaches it; SIGTERM then stops it.
`;

/** Runs the CLI with `argv` (without node and the script). Resolves with the exit code once done. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, ...KEEPALIVED_ARGS } });
  } catch (e) {
    err.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(USAGE);
    return 0;
  }
  const [command, target] = positionals;
  if (!values.config || (command !== undefined && command !== 'export') || (command === 'export' && target !== 'haproxy' && target !== 'nginx' && target !== 'keepalived') || positionals.length > 2) {
    err.write(USAGE);
    return 2;
  }
  try {
    const config = await loadProxyConfig(values.config);
    if (command === 'export') {
      out.write(target === 'haproxy' ? exportHaproxy(config) : target === 'nginx' ? exportNginx(config) : exportKeepalived(config, keepalivedOptions(values)));
      return 0;
    }
    const proxy = createProxy(config);
    proxy.on('down', (id: string) => err.write(`target ${id} down\n`));
    proxy.on('up', (id: string) => err.write(`target ${id} up\n`));
    const { port, host } = await proxy.listen();
    out.write(`scaleout-proxy listening on ${host}:${port} (${config.mode}, ${config.algorithm}, sticky ${config.sticky.mode})\n`);
    await new Promise<void>((resolve) => {
      const drain = () => {
        err.write('SIGUSR2: draining (health check fails, requests still served)\n');
        proxy.drain();
      };
      const stop = (signal: string) => {
        err.write(`${signal}: finishing in-flight requests\n`);
        process.off('SIGUSR2', drain);
        void proxy.close().then(resolve);
      };
      process.on('SIGUSR2', drain);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  } catch (e) {
    const code = e instanceof ScaleoutError ? e.code : 'ERR';
    err.write(`scaleout-proxy: ${(e as Error).message} (${code})\n`);
    return e instanceof ConfigError ? 78 : 1; // 78: EX_CONFIG (sysexits.h)
  }
}
