/**
 * `drover infra` end to end on the infra/ example: real namespaced sshd machines, a real
 * PostgreSQL 15 cluster started here (test/lab/pg.ts), the playbook run through the
 * inventory the apply wrote, drift (a machine killed out of band), destroy leaving nothing,
 * and the pg state backend's lock between two concurrent applies.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStale, mountsUnder } from '../../src/machine/cleanup.js';
import {
  isRunning,
  isUnder,
  processesMountingUnder,
  processesRootedUnder,
  waitFor,
} from '../../src/machine/processes.js';
import { type PgCluster, startPgCluster } from '../lab/pg.js';
import { repoRoot } from '../lab/repo-root.js';
import { type RunResult, runCommand, runDrover } from '../lab/use-fleet.js';

const root = join(repoRoot(), '.lab', 'infra-e2e');
const ex = join(root, 'ex');
let cluster: PgCluster;
let vars: string[];

function infra(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runDrover(['infra', ...args], { cwd: root, env: { NO_COLOR: '1', ...env }, timeoutMs: 60_000 });
}

function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out.sort();
}

interface StateDoc {
  serial: number;
  resources: { address?: string; type: string; attributes: Record<string, unknown> }[];
}

async function machines(): Promise<{ address: string; port: number; stateDir: string }[]> {
  const st = JSON.parse(await readFile(join(ex, 'drover.tfstate.json'), 'utf8')) as StateDoc;
  return st.resources
    .filter((r) => r.type === 'machine')
    .map((r) => ({
      address: String(r.address),
      port: Number(r.attributes.port),
      stateDir: String(r.attributes.state_dir),
    }));
}

beforeAll(async () => {
  await cleanupStale(root).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  cluster = await startPgCluster({ dir: join(root, 'pg'), portFrom: 25690, portTo: 25699 });
  await cp(join(repoRoot(), 'infra'), ex, { recursive: true });
  vars = [
    '-var',
    `pg_port=${cluster.port}`,
    '-var',
    `pg_password=${cluster.password}`,
    '-var',
    'port_range=25500-25589',
  ];
});

afterAll(async () => {
  // Whatever a failed test left: machines under the dir, the cluster.
  await cleanupStale(root).catch(() => undefined);
  await cluster?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('drover infra on the infra/ example', () => {
  it('applies, configures the machines through the generated inventory, then plans no changes', async () => {
    expect((await infra(['init', 'ex'])).code).toBe(0);
    const apply = await infra(['apply', 'ex', '-auto-approve', ...vars]);
    expect(apply.code, show(apply)).toBe(0);
    expect(apply.stdout).toContain('Apply complete! Resources: 9 added, 0 changed, 0 destroyed.');
    // Secrets never printed: the generated db password, the server password.
    const state = await readFile(join(ex, 'drover.tfstate.json'), 'utf8');
    const dbPassword = (JSON.parse(state) as StateDoc).resources.find((r) => r.type === 'random_password')
      ?.attributes.result as string;
    expect(dbPassword).toMatch(/^[A-Za-z0-9]{24}$/);
    for (const secret of [dbPassword, cluster.password]) {
      expect(apply.stdout + apply.stderr).not.toContain(secret);
    }
    expect(apply.stdout).toMatch(/db_password\s+= \(sensitive value\)/);

    expect((await machines()).map((m) => m.address)).toEqual([
      'machine.web[0]',
      'machine.web[1]',
      'machine.web[2]',
    ]);
    // The role really logs in with the generated password, and owns the database.
    expect(await cluster.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'")).toBe(
      'app',
    );
    const login = await runCommand('psql', [
      '-X',
      '-A',
      '-t',
      '-c',
      'SELECT current_user',
      `postgres://app:${dbPassword}@127.0.0.1:${cluster.port}/app`,
    ]);
    expect(login.stdout.trim(), show(login)).toBe('app');

    const pb = await runDrover(['playbook', '-i', join(ex, 'inventory.yml'), join(ex, 'site.yml')], {
      cwd: root,
    });
    expect(pb.code, show(pb)).toBe(0);
    expect(pb.stdout).toMatch(/web-0\s+: ok=2\s+changed=1\s+unreachable=0\s+failed=0/);
    expect(pb.stdout).toMatch(/web-2\s+: ok=2\s+changed=1\s+unreachable=0\s+failed=0/);
    // What the playbook wrote is on the machines (in their upper layers), naming the database.
    for (const m of await machines()) {
      const conf = await readFile(join(m.stateDir, 'upper', 'etc', 'app.conf'), 'utf8');
      expect(conf).toContain(`db_port=${cluster.port}\ndb_name=app\ndb_user=app\n`);
    }

    // Hosts straight from state (-i infra:DIR), strict host key checking through the machines' known_hosts_file.
    const fromState = await runDrover(
      ['exec', 'web', '-i', 'infra:ex', '-m', 'command', '-a', 'hostname', '-o'],
      {
        cwd: root,
      },
    );
    expect(fromState.code, show(fromState)).toBe(0);
    expect(fromState.stdout).toMatch(/web-1 \| CHANGED \| rc=0 \| \(stdout\) web-1/);

    const plan = await infra(['plan', 'ex', '-detailed-exitcode', ...vars]);
    expect(plan.stdout, show(plan)).toContain('No changes.');
    expect(plan.code).toBe(0);
  });

  it('count 3 -> 5 plans exactly two machines to add', async () => {
    const plan = await infra(['plan', 'ex', '-detailed-exitcode', ...vars, '-var', 'web_count=5']);
    expect(plan.code, show(plan)).toBe(2);
    expect(plan.stdout).toContain('Plan: 2 to add, 1 to change, 0 to destroy.');
    const created = [...plan.stdout.matchAll(/# (\S+) will be created/g)].map((m) => m[1]);
    expect(created).toEqual(['machine.web[3]', 'machine.web[4]']);
    expect(plan.stdout).toMatch(/# inventory\.web will be updated in-place/);
  });

  it('sees a machine killed out of band on refresh and recreates it on the next apply', async () => {
    const before = await machines();
    const victim = before[1]!;
    const host = JSON.parse(await readFile(join(victim.stateDir, 'host.json'), 'utf8')) as {
      pid: number;
      launcherPid: number;
    };
    process.kill(host.pid, 'SIGKILL');
    // The kernel ends the namespace and its launcher within milliseconds; refresh after that.
    await waitFor(async () => !(await isRunning(host.launcherPid)), 5000);
    const refresh = await infra(['refresh', 'ex', ...vars]);
    expect(refresh.code, show(refresh)).toBe(0);
    expect(refresh.stdout).toContain('machine.web[1] has been deleted');
    expect((await machines()).map((m) => m.address)).toEqual(['machine.web[0]', 'machine.web[2]']);

    const plan = await infra(['plan', 'ex', '-detailed-exitcode', ...vars]);
    expect(plan.code, show(plan)).toBe(2);
    expect(plan.stdout).toContain('Plan: 1 to add, 1 to change, 0 to destroy.');
    const apply = await infra(['apply', 'ex', '-auto-approve', ...vars]);
    expect(apply.code, show(apply)).toBe(0);
    const after = await machines();
    expect(after.map((m) => m.address)).toEqual(['machine.web[0]', 'machine.web[1]', 'machine.web[2]']);
    expect(after[1]!.stateDir).not.toBe(victim.stateDir);
    // The new web-1 takes the playbook like the others (its key is in the known_hosts file).
    const pb = await runDrover(['playbook', '-i', join(ex, 'inventory.yml'), join(ex, 'site.yml')], {
      cwd: root,
    });
    expect(pb.code, show(pb)).toBe(0);
    expect(pb.stdout).toMatch(/web-1\s+: ok=2\s+changed=1\s+unreachable=0/);
    expect(pb.stdout).toMatch(/web-0\s+: ok=2\s+changed=0\s+unreachable=0/);
  });

  it('destroy leaves no process, mount, file or database object behind', async () => {
    const destroy = await infra(['destroy', 'ex', '-auto-approve', ...vars]);
    expect(destroy.code, show(destroy)).toBe(0);
    expect(destroy.stdout).toContain('Destroy complete! Resources: 9 destroyed.');
    expect(await processesRootedUnder([ex])).toEqual([]);
    expect(await processesMountingUnder(ex)).toEqual([]);
    expect(await mountsUnder(ex)).toEqual([]);
    const files = (await filesUnder(ex)).map((f) => f.slice(ex.length + 1));
    expect(files.filter((f) => !/^drover\.tfstate\.json(\.backup)?$/.test(f))).toEqual([
      '.gitignore',
      'main.infra.yml',
      'site.yml',
    ]);
    expect(await cluster.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'app'")).toBe('0');
    expect(await cluster.psql("SELECT count(*) FROM pg_database WHERE datname = 'app'")).toBe('0');
  });
});

describe('pg state backend between two applies', () => {
  it('refuses a second apply naming the holder, lets one wait with -lock-timeout, keeps state whole', async () => {
    const dir = join(root, 'locked');
    await mkdir(dir, { recursive: true });
    // The create holds the apply (and so the lock) until the test drops a `release` file: no
    // timing assumption, however slow the machine.
    await writeFile(
      join(dir, 'main.infra.yml'),
      [
        'backend:',
        '  pg:',
        '    schema_name: drover_e2e',
        'variables:',
        '  tag: {type: string, default: one}',
        'resources:',
        '  command:',
        '    held:',
        '      create: "i=0; while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; echo made"',
        '      triggers: {tag: "{{ var.tag }}"}',
        '',
      ].join('\n'),
    );
    const env = { PG_CONN_STR: cluster.connStr };
    const until = async (sql: string): Promise<void> => {
      const ok = await waitFor(async () => (await cluster.psql(sql).catch(() => '0')) !== '0', 30_000, 50);
      expect(ok, `waiting for: ${sql}`).toBe(true);
    };
    expect((await infra(['init', 'locked'], env)).code).toBe(0);
    const first = infra(['apply', 'locked', '-auto-approve'], env);
    await until('SELECT count(*) FROM drover_e2e.locks');

    const second = await infra(['apply', 'locked', '-auto-approve', '-var', 'tag=two'], env);
    expect(second.code, show(second)).toBe(1);
    const refused = second.stdout + second.stderr;
    expect(refused).toMatch(/Error acquiring the state lock/);
    expect(refused).toMatch(/Operation:\s+apply/);
    expect(refused).toMatch(/Who:\s+\S+@\S+/);
    const holder = await cluster.psql("SELECT info->>'id' FROM drover_e2e.locks");
    expect(refused).toContain(holder);

    const waiting = infra(['apply', 'locked', '-auto-approve', '-lock-timeout=60s', '-var', 'tag=two'], env);
    // Released only once the third apply is seen polling for the lock from its own session.
    await until(
      "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_try_advisory_lock%' " +
        'AND pid <> (SELECT backend_pid FROM drover_e2e.locks)',
    );
    await writeFile(join(dir, 'release'), '');
    const done = await first;
    expect(done.code, show(done)).toBe(0);
    const waited = await waiting;
    expect(waited.code, show(waited)).toBe(0);
    expect(waited.stdout).toContain('Apply complete! Resources: 1 added, 0 changed, 1 destroyed.');
    const state = JSON.parse(
      await cluster.psql("SELECT data FROM drover_e2e.states WHERE name = 'default'"),
    ) as StateDoc;
    expect(state.resources).toHaveLength(1);
    expect(state.resources[0]!.attributes.triggers).toEqual({ tag: 'two' });
    expect(await cluster.psql('SELECT count(*) FROM drover_e2e.state_backups')).toBe('1');
    expect((await infra(['destroy', 'locked', '-auto-approve'], env)).code).toBe(0);
  });
});

describe('machines and kill -9 of apply', () => {
  it('at seeded random points: the next apply leaves exactly the machines in state running, no orphan', async () => {
    const dir = join(root, 'crash');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'main.infra.yml'),
      ['resources:', '  machine:', '    m:', '      count: 3', '      port_range: "25500-25589"', ''].join(
        '\n',
      ),
    );
    const machinesDir = join(dir, '.drover', 'infra', 'machines');
    // mulberry32: the same kill points on every run.
    let seed = 0x1e57;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let midCreate = 0;
    const kills: string[] = [];
    for (let trial = 0; trial < 8; trial++) {
      const delayMs = Math.round(200 + random() * 1000);
      const child = spawn(
        process.execPath,
        [join(repoRoot(), 'dist/cli/drover.js'), 'infra', 'apply', 'crash', '-auto-approve'],
        {
          cwd: root,
          stdio: 'ignore',
        },
      );
      const exited = new Promise((r) => child.once('exit', r));
      if (trial % 2 === 0) await new Promise((r) => setTimeout(r, delayMs));
      else {
        // Odd trials aim at the window that matters whatever the machine's speed: a host is
        // booting (its host.json exists), then a random few ms more.
        await waitFor(
          async () => {
            for (const d of await readdir(machinesDir).catch(() => [] as string[]))
              if (
                await readFile(join(machinesDir, d, 'host.json')).then(
                  () => true,
                  () => false,
                )
              )
                return true;
            return false;
          },
          10_000,
          5,
        );
        await new Promise((r) => setTimeout(r, delayMs % 200));
      }
      child.kill('SIGKILL');
      await exited;
      // What the kill left: hosts booted that the state does not (yet) hold as created.
      const left = JSON.parse(
        await readFile(join(dir, 'drover.tfstate.json'), 'utf8').catch(() => '{"resources":[]}'),
      ) as StateDoc & { resources: { status?: string }[] };
      const created = left.resources.filter((r) => r.type === 'machine' && !r.status).length;
      const booted = (await readdir(machinesDir).catch(() => [])).length;
      if (booted > created) midCreate++;
      kills.push(`${trial % 2 === 0 ? `${delayMs}ms` : `boot+${delayMs % 200}ms`}:${created}/${booted}`);

      const recover = await infra(['apply', 'crash', '-auto-approve']);
      expect(recover.code, `trial ${trial} (kill after ${delayMs} ms): ${show(recover)}`).toBe(0);
      const state = JSON.parse(await readFile(join(dir, 'drover.tfstate.json'), 'utf8')) as StateDoc;
      const inState = state.resources
        .filter((r) => r.type === 'machine')
        .map((r) => String(r.attributes.state_dir));
      expect(inState).toHaveLength(3);
      const onDisk = (await readdir(machinesDir)).map((d) => join(machinesDir, d)).sort();
      expect(onDisk, `trial ${trial} (kill after ${delayMs} ms)`).toEqual([...inState].sort());
      // Every process under the machines dir belongs to a machine in state (classified by its
      // own root link: sshd's short-lived children of the readiness probes come and go).
      const described: string[] = [];
      for (const p of await processesRootedUnder([machinesDir])) {
        const where = await readlink(`/proc/${p}/root`).catch(() => undefined);
        if (where === undefined || inState.some((d) => isUnder(where, d))) continue;
        const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '?');
        described.push(`${p} ${cmd.replaceAll('\0', ' ')} root=${where}`);
      }
      expect(described, `trial ${trial}: processes outside the machines in state`).toEqual([]);
      const known = (await readFile(join(dir, '.drover', 'infra', 'known_hosts'), 'utf8')).trim().split('\n');
      expect(known).toHaveLength(3);

      const destroy = await infra(['destroy', 'crash', '-auto-approve']);
      expect(destroy.code, show(destroy)).toBe(0);
      expect(await processesRootedUnder([dir])).toEqual([]);
      expect(await processesMountingUnder(dir)).toEqual([]);
    }
    // The seeds must hit the window this is about: hosts booted but not recorded as created.
    expect(midCreate, `kill points (created in state / booted): ${kills.join(' ')}`).toBeGreaterThan(0);
    console.log(`kill points (created in state / booted): ${kills.join(' ')}`);
  });
});
