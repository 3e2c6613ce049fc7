#!/usr/bin/env node
/**
 * The floor: the thinnest ssh2 loop that does a workload's remote work. One persistent
 * connection per host (TCP_NODELAY on), the host's scripts run one after another on exec
 * channels, all hosts in parallel. No inventory, no templating, no planning, no output
 * formatting: whatever drover spends beyond this is its own overhead.
 *
 *   node dist/bench/floor.js PLAN.json [--linear]
 *
 * --linear adds the barrier of Ansible's linear strategy (every host finishes step k before
 * any starts step k+1), which drover must keep: the gap between the two floors is the cost
 * of the strategy, not of drover.
 *
 * PLAN.json is a FloorPlan (written by run.ts, usually from scripts recorded off a real
 * drover run). Prints one line per host (`name ok N` or `name failed: why`) and exits 1
 * if any host failed to connect or run its scripts.
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { Client } from 'ssh2';

export interface FloorStep {
  command: string;
  /** base64 of the bytes to write to the command's stdin. */
  stdin?: string;
}

export interface FloorHost {
  name: string;
  host: string;
  port: number;
  user: string;
  keyFile: string;
  steps: FloorStep[];
}

export interface FloorPlan {
  hosts: FloorHost[];
}

function exec(c: Client, step: FloorStep): Promise<number> {
  return new Promise((resolve, reject) => {
    c.exec(step.command, (err, ch) => {
      if (err) return reject(err);
      let rc = -1;
      ch.on('exit', (code: number | null) => {
        rc = code ?? -1;
      });
      ch.on('close', () => resolve(rc));
      ch.on('data', () => undefined);
      ch.stderr.on('data', () => undefined);
      if (step.stdin) ch.end(Buffer.from(step.stdin, 'base64'));
      else ch.end();
    });
  });
}

function open(h: FloorHost, key: Buffer): Promise<Client> {
  const sock = tcpConnect({ host: h.host, port: h.port });
  sock.setNoDelay(true);
  const c = new Client();
  return new Promise<Client>((resolve, reject) => {
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ sock, username: h.user, privateKey: key, readyTimeout: 60_000 });
  });
}

async function runHost(h: FloorHost, key: Buffer): Promise<string> {
  const c = await open(h, key);
  try {
    for (const s of h.steps) await exec(c, s);
  } finally {
    c.end();
  }
  return `${h.name} ok ${h.steps.length}`;
}

/** All hosts step by step: step k everywhere, then step k+1. */
async function runLinear(
  hosts: FloorHost[],
  keyOf: (f: string) => Buffer,
): Promise<PromiseSettledResult<string>[]> {
  const conns = await Promise.allSettled(hosts.map((h) => open(h, keyOf(h.keyFile))));
  const failed = new Map<number, unknown>();
  conns.forEach((c, i) => {
    if (c.status === 'rejected') failed.set(i, c.reason);
  });
  const steps = Math.max(0, ...hosts.map((h) => h.steps.length));
  for (let k = 0; k < steps; k++) {
    await Promise.all(
      hosts.map(async (h, i) => {
        const c = conns[i];
        const step = h.steps[k];
        if (c?.status !== 'fulfilled' || failed.has(i) || !step) return;
        try {
          await exec(c.value, step);
        } catch (e) {
          failed.set(i, e);
        }
      }),
    );
  }
  for (const c of conns) if (c.status === 'fulfilled') c.value.end();
  return hosts.map((h, i) =>
    failed.has(i)
      ? { status: 'rejected', reason: failed.get(i) }
      : { status: 'fulfilled', value: `${h.name} ok ${h.steps.length}` },
  );
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: floor.js PLAN.json');
  const plan = JSON.parse(readFileSync(file, 'utf8')) as FloorPlan;
  const keys = new Map<string, Buffer>();
  const keyOf = (f: string): Buffer => {
    let k = keys.get(f);
    if (!k) {
      k = readFileSync(f);
      keys.set(f, k);
    }
    return k;
  };
  const results = process.argv.includes('--linear')
    ? await runLinear(plan.hosts, keyOf)
    : await Promise.allSettled(plan.hosts.map((h) => runHost(h, keyOf(h.keyFile))));
  let failed = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') process.stdout.write(`${r.value}\n`);
    else {
      failed++;
      const why = r.reason instanceof Error ? r.reason.message : String(r.reason);
      process.stdout.write(`${plan.hosts[i]?.name} failed: ${why}\n`);
    }
  });
  process.exitCode = failed ? 1 : 0;
}

// run.ts imports only this file's types (erased), so running main here is safe.
await main();
