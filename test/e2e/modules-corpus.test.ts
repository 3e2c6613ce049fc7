/**
 * System, package, network and command modules on the fleet: each scenario of
 * test/e2e/scenarios/system.ts runs check (host untouched) -> run (changed) -> rerun (ok)
 * under drover and, on a fresh twin host, under ansible-playbook, with `--diff` text,
 * statuses and resulting host state compared (test/e2e/scenarios/harness.ts).
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { useFleet } from '../lab/use-fleet.js';
import { runScenarios } from './scenarios/harness.js';
import { HTTP_PORT, PAYLOAD, SYSTEM_SCENARIOS } from './scenarios/system.js';

let fleet: Fleet;
let server: Server;

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

describe('system, package, network and command modules: check, run, rerun, --diff vs ansible-playbook', () => {
  it(`${SYSTEM_SCENARIOS.length} scenarios`, async () => {
    const hosts = { d: fleet.hosts[2]!.name, a: fleet.hosts[3]!.name };
    try {
      await runScenarios(fleet, hosts, SYSTEM_SCENARIOS);
    } finally {
      await Promise.all([fleet.resetHost(hosts.d), fleet.resetHost(hosts.a)]);
    }
  }, 400_000);
});
