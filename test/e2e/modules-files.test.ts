/**
 * The file and text module corpus on the fleet: each scenario of test/e2e/scenarios/files.ts
 * runs check (host untouched) -> run (changed) -> rerun (ok) under drover and, on a fresh
 * twin host, under ansible-playbook, with `--diff` text, statuses and resulting files compared
 * (test/e2e/scenarios/harness.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { useFleet } from '../lab/use-fleet.js';
import { FILE_SCENARIOS, filesController } from './scenarios/files.js';
import { runScenarios } from './scenarios/harness.js';

let fleet: Fleet;
beforeAll(async () => {
  fleet = await useFleet();
});

describe('file and text modules: check, run, rerun, --diff vs ansible-playbook on a twin host', () => {
  it(`${FILE_SCENARIOS.length} scenarios`, async () => {
    const hosts = { d: fleet.hosts[0]!.name, a: fleet.hosts[1]!.name };
    let fetched = '';
    try {
      await runScenarios(fleet, hosts, FILE_SCENARIOS, {
        controller: filesController,
        afterRun: (work) => {
          const p = `${work}/fetched/${hosts.d}/srv/fetch/data.txt`;
          fetched = existsSync(p) ? readFileSync(p, 'utf8') : 'missing';
          if (readFileSync(`${work}/flat.txt`, 'utf8') !== 'fetched\n') fetched += ' (flat differs)';
        },
      });
      expect(fetched).toBe('fetched\n');
    } finally {
      await Promise.all([fleet.resetHost(hosts.d), fleet.resetHost(hosts.a)]);
    }
  }, 300_000);
});
