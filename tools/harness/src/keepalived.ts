import { existsSync } from 'node:fs';
import { ServerMissingError } from './errors.js';
import { runCommand } from './run.js';

const PLACES = ['/usr/sbin/keepalived', '/usr/local/sbin/keepalived', '/sbin/keepalived'];

/** The keepalived binary; throws ServerMissingError (saying how to get it) when it is not installed, never a skip. */
export function keepalivedBinary(): string {
  const found = PLACES.find((p) => existsSync(p));
  if (!found) throw new ServerMissingError(`keepalived (looked in ${PLACES.join(', ')})`);
  return found;
}

/** `keepalived -t -f <file>`: the config test. Resolves with its exit code and what it printed. */
export async function keepalivedConfigTest(file: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const { code, signal, stdout, stderr } = await runCommand(keepalivedBinary(), ['-t', '-f', file]);
  return { code, signal, output: stdout + stderr };
}
