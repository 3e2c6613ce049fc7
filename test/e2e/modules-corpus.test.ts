/**
 * The module corpus on the fleet (ADR 061): each scenario of test/e2e/scenarios/files.ts and
 * system.ts runs check (host's writable layer untouched) -> run (changed) -> rerun (ok)
 * under drover and, on a fresh twin host, under ansible-playbook, with `--diff` text,
 * statuses and resulting host state compared (test/e2e/scenarios/harness.ts). Three suites
 * on three host pairs, at the same time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { useFleet } from '../lab/use-fleet.js';
import { FILE_SCENARIOS, filesController } from './scenarios/files.js';
import { runScenarios } from './scenarios/harness.js';
import {
  aptKeyScenario,
  HTTP_PORT,
  PAYLOAD,
  REBOOT_SCENARIOS,
  SYSTEM_SCENARIOS,
  systemController,
} from './scenarios/system.js';

let fleet: Fleet;
let server: Server;

/** A fresh OpenPGP key made with gpg on the controller: [armored public key, fingerprint]. */
function signingKey(): [string, string] {
  const home = mkdtempSync(join(tmpdir(), 'drover-gpg-'));
  try {
    const gpg = (...args: string[]) =>
      execFileSync('gpg', ['--batch', '--homedir', home, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    gpg(
      '--passphrase',
      '',
      '--quick-gen-key',
      'drover corpus <corpus@example.test>',
      'ed25519',
      'sign',
      'never',
    );
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg('--list-keys', '--with-colons'))![1]!;
    return [gpg('--armor', '--export', fpr), fpr];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  fleet = await useFleet();
  // The controller's HTTP server for get_url, uri and wait_for (hosts share the loopback).
  server = createServer((req, res) => {
    if (req.url === '/payload.txt') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(PAYLOAD);
    } else if (req.url === '/api.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"drover","ok":true}');
    } else if (req.url === '/echo' && req.method === 'POST') {
      const body: Buffer[] = [];
      req.on('data', (b: Buffer) => body.push(b));
      req.on('end', () =>
        res.writeHead(201, { 'content-type': 'application/json' }).end(Buffer.concat(body)),
      );
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(HTTP_PORT, '127.0.0.1', () => ok());
  });
});
afterAll(async () => {
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
});

// The suites use different host pairs and run at the same time: most of their wall time is
// ansible-playbook, one CPU-bound process each, and fleet hosts have 2+ cores between them.
describe.concurrent('modules on the fleet: check, run, rerun, --diff vs ansible-playbook on twin hosts', () => {
  it(`files and text: ${FILE_SCENARIOS.length} scenarios`, async () => {
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
  }, 400_000);

  it(`system, packages, network, commands: ${SYSTEM_SCENARIOS.length + 1} scenarios`, async () => {
    const hosts = { d: fleet.hosts[2]!.name, a: fleet.hosts[3]!.name };
    try {
      await runScenarios(fleet, hosts, [...SYSTEM_SCENARIOS, aptKeyScenario(...signingKey())], {
        controller: systemController,
      });
    } finally {
      await Promise.all([fleet.resetHost(hosts.d), fleet.resetHost(hosts.a)]);
    }
  }, 400_000);

  it(`systemd (stand-in systemctl) and reboot with reconnect: ${REBOOT_SCENARIOS.length} scenarios`, async () => {
    const hosts = { d: fleet.hosts[4]!.name, a: fleet.hosts[5]!.name };
    try {
      await runScenarios(fleet, hosts, REBOOT_SCENARIOS, { restartHosts: true });
    } finally {
      await Promise.all([fleet.resetHost(hosts.d), fleet.resetHost(hosts.a)]);
    }
  }, 300_000);
});
