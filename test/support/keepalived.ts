import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const PLACES = ['/usr/sbin/keepalived', '/usr/local/sbin/keepalived', '/sbin/keepalived'];

/** The keepalived binary; throws saying how to get it when it is not installed (never a skip). */
export function keepalivedBinary(): string {
  const found = PLACES.find((p) => existsSync(p));
  if (!found) throw new Error(`keepalived is not installed (looked in ${PLACES.join(', ')}); run: npm run provision (as root: it installs Debian's keepalived package)`);
  return found;
}

/** `keepalived -t -f <file>`: the config test. Resolves with its exit code and what it printed. */
export function keepalivedConfigTest(file: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(keepalivedBinary(), ['-t', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c));
    proc.stderr.on('data', (c: Buffer) => (output += c));
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}
