// Every child still running when this process exits (a failed or interrupted test run, a crash
// of the sample cluster's launcher, process.exit) is killed, so no run leaves servers behind
// holding ports. 'exit' handlers cannot wait, so each kill is synchronous: a signal, no more.
const kills = new Set<() => void>();
let installed = false;

/** Runs `kill` when this process exits; the returned function takes it back (the child is gone). */
export function killOnExit(kill: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const k of kills) k();
    });
  }
  kills.add(kill);
  return () => kills.delete(kill);
}
