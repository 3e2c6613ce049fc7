import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockinfileModule } from '../../../../modules/files/blockinfile.js';
import { iniFileModule } from '../../../../modules/files/ini_file.js';
import { lineinfileModule } from '../../../../modules/files/lineinfile.js';
import { replaceModule } from '../../../../modules/files/replace.js';
import type { AnyModule } from '../../../../modules/types.js';
import { runModule, scratch } from '../harness.js';
import { snapshotTree } from './tree.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

async function checkThenRun(mod: AnyModule, args: Record<string, unknown>) {
  const before = snapshotTree(s.dir);
  const chk = await runModule(mod, args, { check: true, diff: true });
  expect(snapshotTree(s.dir)).toEqual(before);
  const first = await runModule(mod, args, { diff: true });
  const second = await runModule(mod, args);
  return { chk: chk.result, first: first.result, second: second.result, scripts: first.scripts };
}

describe('lineinfile', () => {
  it('check mode reports, real run changes, rerun is ok; diff is a [content, attrs] pair like Ansible', async () => {
    const p = s.path('sshd_config');
    writeFileSync(p, 'Port 22\nPermitRootLogin yes\n');
    const r = await checkThenRun(lineinfileModule, {
      path: p,
      regexp: '^PermitRootLogin',
      line: 'PermitRootLogin no',
    });
    expect(r.chk).toMatchObject({ changed: true, msg: 'line replaced' });
    expect(r.first).toMatchObject({ changed: true, msg: 'line replaced', backup: '' });
    expect(r.first.diff).toMatchObject({
      before: 'Port 22\nPermitRootLogin yes\n',
      after: 'Port 22\nPermitRootLogin no\n',
      before_header: `${p} (content)`,
    });
    expect(r.second).toMatchObject({ changed: false });
    expect(readFileSync(p, 'utf8')).toBe('Port 22\nPermitRootLogin no\n');
    expect(r.scripts).toHaveLength(2);
  });

  it('a missing file fails with rc 257 unless create=yes; create makes parent dirs', async () => {
    const miss = await runModule(lineinfileModule, { path: s.path('x/y'), line: 'a' });
    expect(miss.result).toMatchObject({
      failed: true,
      rc: 257,
      msg: `Destination ${s.path('x/y')} does not exist !`,
    });
    const r = await checkThenRun(lineinfileModule, {
      path: s.path('x/y'),
      line: 'a',
      create: true,
      mode: '0600',
    });
    expect(r.chk.changed).toBe(true);
    expect(r.first.changed).toBe(true);
    expect(readFileSync(s.path('x/y'), 'utf8')).toBe('a\n');
    expect(statSync(s.path('x/y')).mode & 0o777).toBe(0o600);
    expect(r.second.changed).toBe(false);
    // A new file is written in the step that would have read it (ADR 122): one round trip.
    expect(r.scripts).toHaveLength(1);
  });

  it('create on a file that exists by then: the same step reads it, the second writes', async () => {
    const p = s.path('late');
    for (const [mod, args, want] of [
      [lineinfileModule, { path: p, line: 'b', create: true }, 'a\nb\n'],
      [
        blockinfileModule,
        { path: p, block: 'c', create: true, marker: '# {mark}' },
        'a\nb\n# BEGIN\nc\n# END\n',
      ],
    ] as const) {
      if (mod === lineinfileModule) writeFileSync(p, 'a\n');
      const r = await runModule(mod, args);
      expect(r.result.changed).toBe(true);
      expect(r.scripts).toHaveLength(2);
      expect(readFileSync(p, 'utf8')).toBe(want);
    }
  });

  it('a directory path fails like Ansible', async () => {
    const r = await runModule(lineinfileModule, { path: s.dir, line: 'a' });
    expect(r.result).toMatchObject({ failed: true, rc: 256, msg: `Path ${s.dir} is a directory !` });
  });

  it('backup and validate: failure keeps the old file, success leaves a backup', async () => {
    const p = s.path('f');
    writeFileSync(p, 'keep\n');
    const bad = await runModule(lineinfileModule, { path: p, line: 'oops', validate: 'grep -q never %s' });
    expect(bad.result).toMatchObject({ failed: true, msg: 'failed to validate' });
    expect(readFileSync(p, 'utf8')).toBe('keep\n');
    expect(readdirSync(s.dir)).toEqual(['f']);
    const ok = await runModule(lineinfileModule, { path: p, line: 'more', backup: true });
    expect(ok.result.changed).toBe(true);
    expect(readFileSync(String(ok.result.backup), 'utf8')).toBe('keep\n');
  });

  it("only attributes changed: Ansible's message", async () => {
    const p = s.path('f');
    writeFileSync(p, 'a\n');
    chmodSync(p, 0o644);
    const r = await runModule(lineinfileModule, { path: p, line: 'a', mode: '0600' });
    expect(r.result).toMatchObject({ changed: true, msg: 'ownership, perms or SE linux context changed' });
    const both = await runModule(lineinfileModule, { path: p, line: 'b', mode: '0640' });
    expect(both.result).toMatchObject({
      changed: true,
      msg: 'line added and ownership, perms or SE linux context changed',
    });
  });

  it('a change between read and write is detected, not overwritten', async () => {
    const p = s.path('race');
    writeFileSync(p, 'one\n');
    const { validateArgs } = await import('../../../../modules/args.js');
    const { makeContext, runSh } = await import('../harness.js');
    const v = validateArgs('lineinfile', lineinfileModule.args, { path: p, line: 'two' });
    const step1 = await lineinfileModule.plan(v.args, makeContext());
    if (!('script' in step1)) throw new Error('expected a step');
    const step2 = await step1.parse(await runSh(step1.script));
    if (!('script' in step2)) throw new Error('expected a write step');
    writeFileSync(p, 'someone else\n');
    const res = await step2.parse(await runSh(step2.script, step2.stdin));
    expect(res).toMatchObject({ failed: true });
    expect(String((res as { msg: string }).msg)).toMatch(/changed while drover was editing it/);
    expect(readFileSync(p, 'utf8')).toBe('someone else\n');
  });

  it('an invalid Python regex fails before writing', async () => {
    writeFileSync(s.path('f'), 'x\n');
    const r = await runModule(lineinfileModule, { path: s.path('f'), regexp: '(', line: 'y' });
    expect(r.result.failed).toBe(true);
    expect(String(r.result.msg)).toMatch(/invalid regular expression/);
  });

  it('argument rules: backrefs needs regexp, absent needs something to match', async () => {
    const a = await runModule(lineinfileModule, { path: s.path('f'), line: 'x', backrefs: true });
    expect(a.result).toMatchObject({ failed: true, msg: 'regexp is required with backrefs=true' });
    const b = await runModule(lineinfileModule, { path: s.path('f'), state: 'absent' });
    expect(b.result).toMatchObject({
      failed: true,
      msg: 'one of line, search_string, or regexp is required with state=absent',
    });
    const c = await runModule(lineinfileModule, {
      path: s.path('f'),
      line: 'x',
      insertafter: 'a',
      insertbefore: 'b',
    });
    expect(c.result).toMatchObject({
      failed: true,
      msg: 'parameters are mutually exclusive: insertbefore|insertafter',
    });
  });
});

describe('blockinfile', () => {
  it('inserts, updates in place, removes', async () => {
    const p = s.path('hosts');
    writeFileSync(p, '127.0.0.1 localhost\n');
    const r = await checkThenRun(blockinfileModule, { path: p, block: '10.0.0.1 a\n10.0.0.2 b' });
    expect(r.chk).toMatchObject({ changed: true, msg: 'Block inserted' });
    expect(r.second.changed).toBe(false);
    expect(readFileSync(p, 'utf8')).toBe(
      '127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.1 a\n10.0.0.2 b\n# END ANSIBLE MANAGED BLOCK\n',
    );
    const upd = await runModule(blockinfileModule, { path: p, block: '10.0.0.3 c' });
    expect(upd.result.changed).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe(
      '127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.3 c\n# END ANSIBLE MANAGED BLOCK\n',
    );
    const rm = await runModule(blockinfileModule, { path: p, state: 'absent' });
    expect(rm.result).toMatchObject({ changed: true, msg: 'Block removed' });
    expect(readFileSync(p, 'utf8')).toBe('127.0.0.1 localhost\n');
  });
});

describe('replace', () => {
  it('replaces with Python group syntax and reports the count', async () => {
    const p = s.path('r');
    writeFileSync(p, 'a=1\nb=2\n');
    const r = await checkThenRun(replaceModule, { path: p, regexp: '^(\\w)=(\\d)$', replace: '\\2=\\1' });
    expect(r.chk).toMatchObject({ changed: true, msg: '2 replacements made' });
    expect(r.first.diff).toMatchObject({ before: 'a=1\nb=2\n', after: '1=a\n2=b\n', before_header: p });
    expect(readFileSync(p, 'utf8')).toBe('1=a\n2=b\n');
  });

  it('a missing file fails with rc 257', async () => {
    const r = await runModule(replaceModule, { path: s.path('nope'), regexp: 'a' });
    expect(r.result).toMatchObject({ failed: true, rc: 257 });
  });
});

describe('ini_file', () => {
  it('adds a section and option, changes a value, removes it', async () => {
    const p = s.path('app.ini');
    const r = await checkThenRun(iniFileModule, {
      path: p,
      section: 'db',
      option: 'host',
      value: 'localhost',
    });
    expect(r.chk).toMatchObject({ changed: true, msg: 'section and option added' });
    expect(r.first.changed).toBe(true);
    expect(r.second.changed).toBe(false);
    expect(readFileSync(p, 'utf8')).toBe('\n[db]\nhost = localhost\n');
    const ch = await runModule(iniFileModule, {
      path: p,
      section: 'db',
      option: 'host',
      value: 'db1',
      no_extra_spaces: true,
    });
    expect(ch.result).toMatchObject({ changed: true, msg: 'option changed' });
    expect(readFileSync(p, 'utf8')).toBe('\n[db]\nhost=db1\n');
    const rm = await runModule(iniFileModule, { path: p, section: 'db', option: 'host', state: 'absent' });
    expect(rm.result.changed).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe('\n[db]\n');
  });

  it('value is required with state=present', async () => {
    const r = await runModule(iniFileModule, { path: s.path('x.ini'), section: 'a', option: 'b' });
    expect(r.result).toMatchObject({ failed: true });
    expect(String(r.result.msg)).toMatch(/must be defined if state=present/);
  });
});
