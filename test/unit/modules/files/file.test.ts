import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileModule } from '../../../../modules/files/file.js';
import { runModule, scratch } from '../harness.js';
import { snapshotTree } from './tree.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

async function twice(args: Record<string, unknown>) {
  const before = snapshotTree(s.dir);
  const chk = await runModule(fileModule, args, { check: true });
  expect(snapshotTree(s.dir)).toEqual(before);
  const first = await runModule(fileModule, args);
  const second = await runModule(fileModule, args);
  return { chk: chk.result, first: first.result, second: second.result };
}

describe('file', () => {
  it('state=directory creates parents with the mode, then is ok', async () => {
    const r = await twice({ path: s.path('a/b/c'), state: 'directory', mode: '0750' });
    expect(r.chk.changed).toBe(true);
    expect(r.first).toMatchObject({ changed: true, state: 'directory', mode: '0750', path: s.path('a/b/c') });
    expect(r.second.changed).toBe(false);
    expect(statSync(s.path('a')).mode & 0o777).toBe(0o750);
  });

  it('state=directory on a file fails like Ansible', async () => {
    writeFileSync(s.path('f'), '');
    const r = await runModule(fileModule, { path: s.path('f'), state: 'directory' });
    expect(r.result).toMatchObject({ failed: true, msg: `${s.path('f')} already exists as a file` });
  });

  it('state=file on a missing path fails, mode change on existing is idempotent', async () => {
    const miss = await runModule(fileModule, { path: s.path('nope'), state: 'file' });
    expect(miss.result).toMatchObject({
      failed: true,
      msg: `file (${s.path('nope')}) is absent, cannot continue`,
    });
    writeFileSync(s.path('f'), 'x');
    const r = await twice({ path: s.path('f'), mode: 'u=rw,go=' });
    expect(r.chk.changed).toBe(true);
    expect(r.first).toMatchObject({ changed: true, mode: '0600', state: 'file' });
    expect(r.second.changed).toBe(false);
  });

  it('state=touch creates and is always changed', async () => {
    const r = await twice({ path: s.path('t'), state: 'touch' });
    expect(r.first.changed).toBe(true);
    expect(existsSync(s.path('t'))).toBe(true);
    expect(r.second.changed).toBe(true);
    const p = await runModule(fileModule, {
      path: s.path('t'),
      state: 'touch',
      modification_time: 'preserve',
      access_time: 'preserve',
    });
    expect(p.result.changed).toBe(false);
  });

  it('explicit modification_time is set once', async () => {
    writeFileSync(s.path('m'), '');
    const r = await twice({ path: s.path('m'), state: 'file', modification_time: '202001021304.05' });
    expect(r.first.changed).toBe(true);
    expect(r.second.changed).toBe(false);
    expect(statSync(s.path('m')).mtime.getFullYear()).toBe(2020);
  });

  it('state=link creates, re-points, refuses to replace a file without force', async () => {
    writeFileSync(s.path('target'), 'x');
    writeFileSync(s.path('other'), 'y');
    const r = await twice({ path: s.path('ln'), src: 'target', state: 'link' });
    expect(r.first).toMatchObject({ changed: true, state: 'link', src: 'target' });
    expect(r.second.changed).toBe(false);
    expect(readlinkSync(s.path('ln'))).toBe('target');
    const re = await runModule(fileModule, { path: s.path('ln'), src: 'other', state: 'link' });
    expect(re.result.changed).toBe(true);
    expect(readlinkSync(s.path('ln'))).toBe('other');
    const refuse = await runModule(fileModule, { path: s.path('other'), src: 'target', state: 'link' });
    expect(refuse.result).toMatchObject({
      failed: true,
      msg: `refusing to convert from file to symlink for ${s.path('other')}`,
    });
    const missing = await runModule(fileModule, { path: s.path('dang'), src: 'nowhere', state: 'link' });
    expect(missing.result.failed).toBe(true);
    expect(String(missing.result.msg)).toMatch(/src file does not exist, use "force=yes"/);
    const forced = await runModule(fileModule, {
      path: s.path('dang'),
      src: 'nowhere',
      state: 'link',
      force: true,
    });
    expect(forced.result.changed).toBe(true);
    expect(lstatSync(s.path('dang')).isSymbolicLink()).toBe(true);
  });

  it('state=hard links to the same inode', async () => {
    writeFileSync(s.path('orig'), 'x');
    const r = await twice({ path: s.path('hl'), src: s.path('orig'), state: 'hard' });
    expect(r.first.changed).toBe(true);
    expect(r.second.changed).toBe(false);
    expect(statSync(s.path('hl')).ino).toBe(statSync(s.path('orig')).ino);
  });

  it('state=absent removes trees and is then ok', async () => {
    mkdirSync(s.path('d/e'), { recursive: true });
    writeFileSync(s.path('d/e/f'), 'x');
    symlinkSync('d', s.path('l'));
    const r = await twice({ path: s.path('d'), state: 'absent' });
    expect(r.chk.changed).toBe(true);
    expect(r.first.changed).toBe(true);
    expect(r.second).toMatchObject({ changed: false, state: 'absent' });
    expect(existsSync(s.path('d'))).toBe(false);
  });

  it('recurse applies mode to everything under the directory', async () => {
    mkdirSync(s.path('r/s'), { recursive: true });
    writeFileSync(s.path('r/s/f'), 'x');
    const r = await twice({ path: s.path('r'), state: 'directory', recurse: true, mode: 'u=rwX,g=rX,o=' });
    expect(r.first.changed).toBe(true);
    expect(r.second.changed).toBe(false);
    expect(statSync(s.path('r/s/f')).mode & 0o777).toBe(0o640);
    expect(statSync(s.path('r/s')).mode & 0o777).toBe(0o750);
  });

  it('a failure deep in recurse is reported with its reason', async () => {
    mkdirSync(s.path('r/s'), { recursive: true });
    writeFileSync(s.path('r/s/f'), 'x');
    const bad = await runModule(fileModule, {
      path: s.path('r'),
      state: 'directory',
      recurse: true,
      owner: 'no_such_user_drover',
    });
    expect(bad.result.failed).toBe(true);
    expect(String(bad.result.msg)).toMatch(/^chown failed: .*no_such_user_drover/);
    const uid = String(process.getuid?.() ?? 0);
    const same = await runModule(fileModule, {
      path: s.path('r'),
      state: 'directory',
      recurse: true,
      owner: uid,
    });
    expect(same.result.changed).toBe(false);
  });

  it('default state follows the existing path; hard-linked files stay ok', async () => {
    writeFileSync(s.path('h1'), 'x');
    linkSync(s.path('h1'), s.path('h2'));
    const r = await runModule(fileModule, { path: s.path('h2') });
    expect(r.result.changed).toBe(false);
  });
});
