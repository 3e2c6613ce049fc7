#!/usr/bin/env node
/**
 * drover's executable. It runs the CLI from dist/bin/drover.cjs, one file that
 * tools/bundle.ts builds from the compiled modules, with the V8 code cache that the build
 * made by running it once (ADR 121): loading ~200 ES modules and compiling them is most of
 * drover's start-up, which every run pays before it can contact a host. Without a bundle
 * (a tsc-only build, or DROVER_NO_BUNDLE=1) it imports cli/main.js as before.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from './bundle-loader.js';

async function start(): Promise<void> {
  const bundle =
    process.env.DROVER_NO_BUNDLE === '1'
      ? undefined
      : loadBundle(join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'drover.cjs'));
  if (process.env.DROVER_DEBUG_START) {
    process.stderr.write(`drover start: ${bundle ? `bundle, code cache ${bundle.cache}` : 'modules'}\n`);
  }
  // The build runs drover once with this set, after which the cache holds every function
  // that run compiled (a cache made before running would hold only the top level).
  if (bundle && process.env.DROVER_WRITE_CODE_CACHE === '1') process.once('exit', () => bundle.writeCache());
  const main = bundle ? bundle.main : (await import('./main.js')).main;
  await main();
}

await start();
