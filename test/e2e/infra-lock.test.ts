/**
 * Two `drover infra apply` at once on the local backend: the second fails naming the lock
 * holder, or with -lock-timeout waits its turn; the state is never corrupted and no object is
 * created twice. Needs no ssh hosts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseState } from '../../src/infra/state.js';
import { repoRoot } from '../lab/repo-root.js';
import { type RunResult, runDrover } from '../lab/use-fleet.js';

const DROVER = join(repoRoot(), 'dist', 'cli', 'drover.js');
const root = mkdtempSync(join(tmpdir(), 'drover-infra-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONFIG = `
variables:
  n: {type: number, default: 2}
resources:
  command:
    slow:
      count: "{{ var.n }}"
      create: "sleep 1; echo x >> objs/slow-{{ count.index }}"
      destroy: "rm -f objs/slow-{{ count.index }}"
`;

function start(dir: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DROVER, 'infra', ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Waits until the running apply holds the lock; fails with its output if it ends first. */
async function lockTaken(dir: string, running: Promise<RunResult>): Promise<void> {
  const lock = join(dir, 'drover.tfstate.json.lock');
  let ended: RunResult | undefined;
  void running.then((r) => {
    ended = r;
  });
  for (let i = 0; i < 1200 && !existsSync(lock) && !ended; i++) await new Promise((r) => setTimeout(r, 25));
  expect(
    existsSync(lock),
    `the first apply never took the lock: ${ended ? `it ended (${ended.code}): ${ended.stderr}` : 'still running'}`,
  ).toBe(true);
}

function setup(name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'objs'), { recursive: true });
  writeFileSync(join(dir, 'main.infra.yml'), CONFIG);
  return dir;
}

function checkObjects(dir: string, n: number): void {
  const st = parseState(readFileSync(join(dir, 'drover.tfstate.json'), 'utf8'), 'state');
  expect(st.resources.map((i) => `${i.address}${i.status ? ` ${i.status}` : ''}`)).toEqual(
    Array.from({ length: n }, (_, i) => `command.slow[${i}]`),
  );
  for (let i = 0; i < n; i++) expect(readFileSync(join(dir, 'objs', `slow-${i}`), 'utf8')).toBe('x\n');
  parseState(readFileSync(join(dir, 'drover.tfstate.json.backup'), 'utf8'), 'backup');
}

describe('infra state lock (local backend)', () => {
  it('a second apply fails naming the holder; nothing is corrupted', async () => {
    const dir = setup('fail');
    // Four one-second creates in a row: long enough for the second process to start.
    const first = start(dir, ['apply', '-auto-approve', '-parallelism=1', '-var', 'n=4']);
    await lockTaken(dir, first);
    const second = await runDrover(['infra', 'apply', '-auto-approve', '-var', 'n=5'], { cwd: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('Error acquiring the state lock');
    expect(second.stderr).toMatch(/Who: +\S+@\S+/);
    expect(second.stderr).toContain('Operation: apply');
    expect(second.stderr).toMatch(/ID: +[0-9a-f-]{36}/);
    expect(second.stderr).toContain('-lock-timeout');
    const r = await first;
    expect(r.code, r.stderr).toBe(0);
    checkObjects(dir, 4);
    expect(existsSync(join(dir, 'drover.tfstate.json.lock'))).toBe(false);
  });

  it('with -lock-timeout the second waits its turn and then applies its own change', async () => {
    const dir = setup('wait');
    const first = start(dir, ['apply', '-auto-approve']);
    await lockTaken(dir, first);
    const second = await runDrover(['infra', 'apply', '-auto-approve', '-var', 'n=3', '-lock-timeout=60s'], {
      cwd: dir,
    });
    const r = await first;
    expect(r.code, r.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    // It planned after the first finished: only the third instance was left to add.
    expect(second.stdout).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
    checkObjects(dir, 3);
  });
});
