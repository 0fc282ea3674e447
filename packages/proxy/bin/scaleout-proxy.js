#!/usr/bin/env node
// `#cli` resolves to the built dist/cli.js, or, run with
// `node --conditions=@scaleout/source --import tsx packages/proxy/bin/scaleout-proxy.js`, to src/cli.ts.
import { main } from '#cli';

process.exitCode = await main(process.argv.slice(2));
