/**
 * The same scripts under BusyBox only: `busybox sh` with a PATH holding nothing but
 * BusyBox applets, as on Alpine or a minimal image. Proves the scripts use no GNU-only
 * flags. Skipped when busybox is not installed (`apt-get install busybox`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { filesModules } from '../../../../modules/files/index.js';
import type { Step, TaskResult } from '../../../../modules/types.js';
import type { RunResult } from '../../../../src/transport/types.js';
import { type HarnessOptions, makeContext, scratch } from '../harness.js';

const hasBusybox = spawnSync('busybox', ['true']).status === 0;
const s = scratch();
const bin = s.path('bin');
if (hasBusybox) {
  mkdirSync(bin);
  spawnSync('busybox', ['--install', '-s', bin]);
}
afterAll(() => s.cleanup());

function runBusybox(script: string, stdin?: Uint8Array | string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(`${bin}/sh`, ['-c', script], { env: { PATH: bin, HOME: s.dir } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) =>
      resolve({
        rc: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    p.stdin.on('error', () => {});
    p.stdin.end(stdin ?? '');
  });
}

async function run(
  name: string,
  raw: Record<string, unknown>,
  opts: HarnessOptions = {},
): Promise<TaskResult> {
  const m = filesModules.find((x) => x.names.includes(name));
  if (!m) throw new Error(name);
  const v = validateArgs(name, m.args, raw);
  if (v.errors.length > 0) throw new Error(v.errors.join('; '));
  let next: Step | TaskResult = await m.plan(v.args, { ...makeContext(opts), remoteTmp: s.dir });
  while (typeof (next as Step).script === 'string') {
    const step = next as Step;
    next = await step.parse(await runBusybox(step.script, step.stdin));
  }
  return next as TaskResult;
}

describe.skipIf(!hasBusybox)('file modules under busybox sh + applets only', () => {
  it('copy with symbolic mode, backup, validate; idempotent', async () => {
    const dest = s.path('copy.txt');
    writeFileSync(dest, 'old\n');
    const r = await run('copy', {
      content: 'new $x `y`\n',
      dest,
      mode: 'u=rw,g=r,o=',
      backup: true,
      validate: 'grep -q new %s',
    });
    expect(r).toMatchObject({ changed: true, mode: '0640', state: 'file' });
    expect(readFileSync(dest, 'utf8')).toBe('new $x `y`\n');
    expect(readFileSync(String(r.backup_file), 'utf8')).toBe('old\n');
    expect((await run('copy', { content: 'new $x `y`\n', dest, mode: 'u=rw,g=r,o=' })).changed).toBe(false);
  });

  it('file: directory, link, hard, touch with a time, absent', async () => {
    expect((await run('file', { path: s.path('d/e'), state: 'directory', mode: '0750' })).changed).toBe(true);
    expect(statSync(s.path('d/e')).mode & 0o777).toBe(0o750);
    expect((await run('file', { path: s.path('d/l'), src: 'e', state: 'link' })).changed).toBe(true);
    expect((await run('file', { path: s.path('d/l'), src: 'e', state: 'link' })).changed).toBe(false);
    writeFileSync(s.path('d/f'), 'x');
    expect((await run('file', { path: s.path('d/h'), src: s.path('d/f'), state: 'hard' })).changed).toBe(
      true,
    );
    expect((await run('file', { path: s.path('d/f'), modification_time: '202001021304.05' })).changed).toBe(
      true,
    );
    expect((await run('file', { path: s.path('d/f'), modification_time: '202001021304.05' })).changed).toBe(
      false,
    );
    expect((await run('file', { path: s.path('d'), state: 'absent' })).changed).toBe(true);
  });

  it('stat, slurp, lineinfile, find, tempfile, unarchive', async () => {
    writeFileSync(s.path('cfg'), 'a=1\n');
    const st = await run('stat', { path: s.path('cfg') });
    expect(st.stat).toMatchObject({
      exists: true,
      isreg: true,
      size: 4,
      checksum: createHash('sha1').update('a=1\n').digest('hex'),
    });
    const sl = await run('slurp', { src: s.path('cfg') });
    expect(Buffer.from(String(sl.content), 'base64').toString()).toBe('a=1\n');
    expect((await run('lineinfile', { path: s.path('cfg'), regexp: '^a=', line: 'a=2' })).changed).toBe(true);
    expect(readFileSync(s.path('cfg'), 'utf8')).toBe('a=2\n');
    const f = await run('find', { paths: s.dir, patterns: 'cf?' });
    expect(f.matched).toBe(1);
    const t = await run('tempfile', { path: s.dir, suffix: '.x' });
    expect(String(t.path).endsWith('.x')).toBe(true);
    mkdirSync(s.path('arc/pkg'), { recursive: true });
    writeFileSync(s.path('arc/pkg/file'), 'content\n');
    spawnSync('tar', ['-czf', s.path('a.tar.gz'), '-C', s.path('arc'), 'pkg']);
    mkdirSync(s.path('out'));
    expect(
      (await run('unarchive', { src: s.path('a.tar.gz'), dest: s.path('out'), remote_src: true })).changed,
    ).toBe(true);
    expect(readFileSync(s.path('out/pkg/file'), 'utf8')).toBe('content\n');
    expect(
      (await run('unarchive', { src: s.path('a.tar.gz'), dest: s.path('out'), remote_src: true })).changed,
    ).toBe(false);
  });
});
