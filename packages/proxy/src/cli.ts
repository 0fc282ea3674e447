import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, ScaleoutError } from '@scaleout/core';
import { loadProxyConfig } from './config.js';
import { exportHaproxy } from './export-haproxy.js';
import { exportKeepalived } from './export-keepalived.js';
import { exportNginx } from './export-nginx.js';
import { keepalivedOptions, KEEPALIVED_ARGS, KEEPALIVED_USAGE } from './cli-keepalived.js';
import { createProxy, type AccessEntry } from './proxy.js';
import { isPrimaryOf, leaveCluster, runPrimary, workerCount } from './workers.js';

/**
 * The access log: pino writing one JSON object per line, asynchronously (a request never waits
 * for the disk). Only what `AccessEntry` holds is written: no header, cookie or query string.
 */
function accessLog(dest: string | 1): { logger: { info(entry: AccessEntry): void }; close(): Promise<void> } {
  const stream = pino.destination({ dest, sync: false, mkdir: typeof dest === 'string' });
  const logger = pino({ base: null, timestamp: false, formatters: { level: (label) => ({ level: label }) } }, stream);
  return {
    logger,
    async close() {
      if (dest === 1) return void stream.flushSync();
      const closed = once(stream, 'close');
      stream.end();
      await closed;
    },
  };
}

const USAGE = `Usage:
  scaleout-proxy --config proxy.json              run the proxy (SIGTERM/SIGINT: graceful stop)
    [--access-log FILE]                           one JSON line per request to FILE ("-": standard output)
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
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, 'access-log': { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...KEEPALIVED_ARGS } });
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
    const workers = workerCount(config.workers);
    if (isPrimaryOf(workers)) {
      out.write(`scaleout-proxy: starting ${workers} workers\n`);
      return await runPrimary(workers, err);
    }
    const proxy = createProxy(config);
    proxy.on('down', (id: string) => err.write(`target ${id} down\n`));
    proxy.on('up', (id: string) => err.write(`target ${id} up\n`));
    const logFile = values['access-log'];
    // With the log on standard output, the start-up line goes to standard error: stdout stays JSON lines.
    const note = logFile === '-' ? err : out;
    const log = logFile === undefined ? undefined : accessLog(logFile === '-' ? 1 : logFile);
    if (log) proxy.on('access', (entry: AccessEntry) => log.logger.info(entry));
    const { port, host } = await proxy.listen();
    note.write(`scaleout-proxy listening on ${host}:${port} (${config.mode}, ${config.algorithm}, sticky ${config.sticky.mode})\n`);
    await new Promise<void>((resolve) => {
      const drain = () => {
        err.write('SIGUSR2: draining (health check fails, requests still served)\n');
        proxy.drain();
      };
      // on, not once: a worker can get the signal twice (from its terminal and from its primary)
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        err.write(`${signal}: finishing in-flight requests\n`);
        process.off('SIGUSR2', drain);
        void proxy.close().then(resolve);
      };
      process.on('SIGUSR2', drain);
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await log?.close();
    leaveCluster(); // a worker's channel to its primary would keep it alive
    return 0;
  } catch (e) {
    const code = e instanceof ScaleoutError ? e.code : 'ERR';
    err.write(`scaleout-proxy: ${(e as Error).message} (${code})\n`);
    return e instanceof ConfigError ? 78 : 1; // 78: EX_CONFIG (sysexits.h)
  }
}
