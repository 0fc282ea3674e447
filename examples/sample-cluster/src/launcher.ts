// `npm start` at the repository root: the sample cluster. `npm start -- --help` lists the options.
import { ScaleoutError } from '@scaleout/core';
import { parseCommandLine, USAGE } from './options.js';
import { SampleCluster } from './sample-cluster.js';

let cluster: SampleCluster | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log('\nstopping every process the sample cluster started…');
    await cluster?.close();
    console.log('stopped.');
  }
  process.exit(code);
}

// A second Ctrl-C while stopping exits at once; the harness's exit hook still kills every group.
process.on('SIGINT', () => (stopping ? process.exit(130) : void stop(0)));
process.on('SIGTERM', () => (stopping ? process.exit(143) : void stop(0)));
process.on('uncaughtException', (err) => {
  console.error('sample cluster crashed:', err);
  // The harness's exit hook kills every process group synchronously.
  process.exit(1);
});

try {
  const options = parseCommandLine(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    process.exit(0);
  }
  console.log(`starting the sample cluster (strategy ${options.strategy})…`);
  // Assigned before it starts, so that a Ctrl-C during start-up stops what already runs (and the
  // exit hook kills whatever starts after that).
  cluster = new SampleCluster(options);
  await cluster.start();
  console.log(`
scaleout sample cluster: ${cluster.summary}
  open       ${cluster.url}/
  status     ${cluster.statusPageUrl}
  dashboard  ${cluster.dashboardUrl}
  run folder ${cluster.runDir}
  pids       ${cluster.processes().map((p) => `${p.name}=${p.pid}`).join(' ')}
Ctrl-C stops everything.`);
} catch (err) {
  const e = err as ScaleoutError;
  console.error(`the sample cluster could not start: ${e.message}${e.code ? ` (${e.code})` : ''}`);
  await cluster?.close();
  process.exit(stopping ? 0 : 1);
}
