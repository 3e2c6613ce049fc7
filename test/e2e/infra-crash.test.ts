/**
 * Crash safety of `drover infra apply`: killed with SIGKILL at seeded random points (after it
 * started creating), over and over on the same state, with local_file and command resources
 * whose objects the test can list on disk (a command appends a line per create, so a second
 * create of the same instance shows as a duplicate). After every kill the state parses and
 * every object on disk is recorded in it; at the end of each chain a full apply must
 * leave exactly the configured objects, once each; destroy leaves nothing. Also: Ctrl-C lets
 * the running operation finish, saves state and exits non-zero.
 * Needs no ssh hosts. Seed: DROVER_CRASH_SEED (printed on failure).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseState, type State } from '../../src/infra/state.js';
import { repoRoot } from '../lab/repo-root.js';
import { runDrover } from '../lab/use-fleet.js';

const DROVER = join(repoRoot(), 'dist', 'cli', 'drover.js');
const SEED = Number(process.env.DROVER_CRASH_SEED ?? 20261126);
const TRIALS = 50;
const CHAINS = 5;
const root = mkdtempSync(join(tmpdir(), 'drover-infra-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CONFIG = `
variables:
  n: {type: number, default: 3}
  m: {type: number, default: 3}
resources:
  local_file:
    f:
      count: "{{ var.n }}"
      filename: "objs/file-{{ count.index }}"
      content: "file {{ count.index }}"
  command:
    c:
      count: "{{ var.m }}"
      create: "sleep 0.02; echo x >> objs/cmd-{{ count.index }}"
      destroy: "rm -f objs/cmd-{{ count.index }}"
      depends_on: [local_file.f]
`;

function readState(dir: string): State | undefined {
  const p = join(dir, 'drover.tfstate.json');
  if (!existsSync(p)) return undefined;
  const s = parseState(readFileSync(p, 'utf8'), p);
  if (existsSync(`${p}.backup`)) parseState(readFileSync(`${p}.backup`, 'utf8'), `${p}.backup`);
  return s;
}

/** objs/ entries and the address each one belongs to. */
function objects(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const d = join(dir, 'objs');
  if (!existsSync(d)) return out;
  for (const name of readdirSync(d)) {
    const m = /^(file|cmd)-(\d+)(\.drover-tmp)?$/.exec(name);
    out.set(
      name,
      m ? `${m[1] === 'file' ? 'local_file.f' : 'command.c'}[${m[2]}]` : `(unknown object ${name})`,
    );
  }
  return out;
}

const PROGRESS = /: (Creating|Destroying|Modifying)\.\.\.|: (Creation|Destruction|Modifications) complete/g;

/**
 * Starts an apply and SIGKILLs it `delayMs` after its `atLine`-th progress line (an operation
 * starting or ending). Tied to the apply's own progress, not to wall time, so a fast machine
 * kills as often as a slow one; an apply with fewer progress lines finishes unharmed.
 */
function applyAndKill(dir: string, vars: string[], atLine: number, delayMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [DROVER, 'infra', 'apply', '-auto-approve', ...vars],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let armed = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!armed && (out.match(PROGRESS)?.length ?? 0) >= atLine) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('close', (code, signal) => resolve(`${signal ?? code}`));
  });
}

describe('infra apply crash safety', () => {
  it(`kill -9 at ${TRIALS} seeded points: no orphan, no duplicate, state always parses (seed ${SEED})`, async () => {
    // Five independent chains of trials (own directory and seed) run side by side: the time
    // goes into starting node, which overlaps well.
    const chain = async (k: number): Promise<number> => {
      const rand = mulberry32(SEED + k);
      const dir = join(root, `kill-${k}`);
      mkdirSync(join(dir, 'objs'), { recursive: true });
      writeFileSync(join(dir, 'main.infra.yml'), CONFIG);
      const check = (what: string) => {
        const s = readState(dir);
        const tracked = new Set((s?.resources ?? []).map((i) => i.address));
        for (const [name, addr] of objects(dir))
          expect(
            tracked.has(addr),
            `${what}: objs/${name} is on disk but ${addr} is not in the state (seed ${SEED + k})`,
          ).toBe(true);
      };
      const converge = async (n: number, m: number, what: string) => {
        const r = await runDrover(['infra', 'apply', '-auto-approve', '-var', `n=${n}`, '-var', `m=${m}`], {
          cwd: dir,
        });
        expect(r.code, `${what}: ${r.stderr}`).toBe(0);
        const want = [
          ...Array.from({ length: n }, (_, i) => `file-${i}`),
          ...Array.from({ length: m }, (_, i) => `cmd-${i}`),
        ].sort();
        expect([...objects(dir).keys()].sort(), what).toEqual(want);
        for (let i = 0; i < m; i++)
          expect(
            readFileSync(join(dir, 'objs', `cmd-${i}`), 'utf8'),
            `${what}: command.c[${i}] created twice`,
          ).toBe('x\n');
        const s = readState(dir)!;
        expect(
          s.resources.filter((r) => r.status || r.deposed),
          what,
        ).toEqual([]);
        expect(s.resources.map((r) => r.address).sort()).toEqual(
          [
            ...Array.from({ length: n }, (_, i) => `local_file.f[${i}]`),
            ...Array.from({ length: m }, (_, i) => `command.c[${i}]`),
          ].sort(),
        );
      };
      let kills = 0;
      for (let t = 0; t < TRIALS / CHAINS; t++) {
        const n = Math.floor(rand() * 5);
        const m = Math.floor(rand() * 5);
        const atLine = 1 + Math.floor(rand() * 6);
        const delay = Math.floor(rand() * 30);
        const how = await applyAndKill(dir, ['-var', `n=${n}`, '-var', `m=${m}`], atLine, delay);
        if (how === 'SIGKILL') kills++;
        check(`chain ${k} trial ${t} (n=${n} m=${m} kill ${delay} ms after progress line ${atLine}: ${how})`);
      }
      await converge(4, 4, `chain ${k}: final`);
      const r = await runDrover(['infra', 'destroy', '-auto-approve'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect([...objects(dir).keys()]).toEqual([]);
      expect(readState(dir)!.resources).toEqual([]);
      return kills;
    };
    // allSettled: a failing chain must not leave the others writing after the test ends.
    const results = await Promise.allSettled(Array.from({ length: CHAINS }, (_, k) => chain(k)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const kills = results.reduce((a, r) => a + (r.status === 'fulfilled' ? r.value : 0), 0);
    console.log(`infra crash: ${kills} of ${TRIALS} applies killed mid-run (seed ${SEED})`);
    // Most trials must really have been killed mid-apply, or the test proves nothing.
    expect(kills).toBeGreaterThanOrEqual(TRIALS / 2);
  });

  it('Ctrl-C lets the running operation finish, saves state and exits non-zero', async () => {
    const dir = join(root, 'sigint');
    mkdirSync(join(dir, 'objs'), { recursive: true });
    writeFileSync(
      join(dir, 'main.infra.yml'),
      `
resources:
  command:
    a: {create: "sleep 0.6; echo a > objs/a", destroy: "rm -f objs/a"}
    b: {create: "echo b > objs/b", destroy: "rm -f objs/b", depends_on: [command.a]}
`,
    );
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [DROVER, 'infra', 'apply', '-auto-approve'], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let sent = false;
      const on = (d: Buffer) => {
        out += d.toString();
        if (!sent && out.includes('command.a: Creating...')) {
          sent = true;
          child.kill('SIGINT');
        }
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(result.code).not.toBe(0);
    expect(result.out).toContain('Interrupted');
    // command.a was in flight: it finished and is in the state; command.b never started.
    expect(readFileSync(join(dir, 'objs', 'a'), 'utf8')).toBe('a\n');
    expect(existsSync(join(dir, 'objs', 'b'))).toBe(false);
    expect(readState(dir)!.resources.map((i) => [i.address, i.status ?? 'ok'])).toEqual([
      ['command.a', 'ok'],
    ]);
    expect(existsSync(join(dir, 'drover.tfstate.json.lock'))).toBe(false);
    const r = await runDrover(['infra', 'apply', '-auto-approve'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 added');
  });
});
