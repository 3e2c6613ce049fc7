import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assembleModule } from '../../../../modules/files/assemble.js';
import { fetchModule } from '../../../../modules/files/fetch.js';
import { findModule } from '../../../../modules/files/find.js';
import { tempfileModule } from '../../../../modules/files/tempfile.js';
import { unarchiveModule } from '../../../../modules/files/unarchive.js';
import { runModule, scratch } from '../harness.js';
import { snapshotTree } from './tree.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

function controllerFs() {
  return {
    find: (_k: string, p: string) => p,
    read: async (p: string) => readFileSync(p),
    write: async (p: string, data: Uint8Array) => {
      mkdirSync(p.slice(0, p.lastIndexOf('/')), { recursive: true });
      writeFileSync(p, data);
    },
  };
}

describe('fetch', () => {
  it('copies to dest/<host>/<path>, then is ok; flat writes dest itself', async () => {
    const src = s.path('remote/etc/motd');
    mkdirSync(s.path('remote/etc'), { recursive: true });
    writeFileSync(src, Buffer.from([1, 2, 0, 255]));
    const files = controllerFs();
    const r = await runModule(fetchModule, { src, dest: s.path('backups') }, { files });
    const dest = `${s.path('backups')}/localhost${src}`;
    expect(r.result).toMatchObject({ changed: true, dest });
    expect(readFileSync(dest)).toEqual(Buffer.from([1, 2, 0, 255]));
    const again = await runModule(fetchModule, { src, dest: s.path('backups') }, { files });
    expect(again.result.changed).toBe(false);
    const flat = await runModule(fetchModule, { src, dest: `${s.path('flat')}/`, flat: true }, { files });
    expect(flat.result).toMatchObject({ changed: true, dest: s.path('flat/motd') });
  });

  it('check mode writes nothing on the controller', async () => {
    writeFileSync(s.path('f'), 'x');
    const r = await runModule(
      fetchModule,
      { src: s.path('f'), dest: s.path('out'), flat: true },
      { files: controllerFs(), check: true },
    );
    expect(r.result.changed).toBe(true);
    expect(existsSync(s.path('out'))).toBe(false);
  });

  it('missing file: failed by default, ok with fail_on_missing=no', async () => {
    const a = await runModule(
      fetchModule,
      { src: s.path('none'), dest: s.path('o') },
      { files: controllerFs() },
    );
    expect(a.result).toMatchObject({
      failed: true,
      msg: 'the remote file does not exist, not transferring, ignored',
    });
    const b = await runModule(
      fetchModule,
      { src: s.path('none'), dest: s.path('o'), fail_on_missing: false },
      { files: controllerFs() },
    );
    expect(b.result).toMatchObject({ changed: false });
    expect(b.result.failed).toBeUndefined();
  });
});

describe('find', () => {
  beforeEach(() => {
    mkdirSync(s.path('logs/old'), { recursive: true });
    mkdirSync(s.path('logs/.hidden'), { recursive: true });
    writeFileSync(s.path('logs/a.log'), 'error: boom\nok\n');
    writeFileSync(s.path('logs/b.txt'), 'fine\n');
    writeFileSync(s.path('logs/old/c.log'), 'x'.repeat(5000));
    writeFileSync(s.path('logs/.d.log'), '');
    writeFileSync(s.path('logs/with space.log'), '');
    utimesSync(s.path('logs/old/c.log'), new Date('2000-01-01'), new Date('2000-01-01'));
  });
  const names = (r: { files?: unknown }) =>
    ((r.files ?? []) as { path: string }[]).map((f) => f.path.slice(s.dir.length + 6)).sort();

  it('globs, recursion, hidden', async () => {
    const r = await runModule(findModule, { paths: s.path('logs'), patterns: '*.log' });
    expect(names(r.result)).toEqual(['a.log', 'with space.log']);
    const rec = await runModule(findModule, {
      paths: s.path('logs'),
      patterns: ['*.log'],
      recurse: true,
      hidden: true,
    });
    expect(names(rec.result)).toEqual(['.d.log', 'a.log', 'old/c.log', 'with space.log']);
    expect(rec.result).toMatchObject({ changed: false, matched: 4, msg: 'All paths examined' });
  });

  it('regex, excludes, file_type, size, age, contains, checksum', async () => {
    const re = await runModule(findModule, {
      paths: [s.path('logs')],
      patterns: ['^[ab]\\.'],
      use_regex: true,
      excludes: ['b'],
    });
    expect(names(re.result)).toEqual(['a.log']);
    const dirs = await runModule(findModule, { paths: s.path('logs'), file_type: 'directory', hidden: true });
    expect(names(dirs.result)).toEqual(['.hidden', 'old']);
    const big = await runModule(findModule, { paths: s.path('logs'), recurse: true, size: '4k' });
    expect(names(big.result)).toEqual(['old/c.log']);
    const old = await runModule(findModule, { paths: s.path('logs'), recurse: true, age: '4w' });
    expect(names(old.result)).toEqual(['old/c.log']);
    const has = await runModule(findModule, { paths: s.path('logs'), contains: 'error:.*' });
    expect(names(has.result)).toEqual(['a.log']);
    const sum = await runModule(findModule, { paths: s.path('logs'), patterns: 'b.txt', get_checksum: true });
    expect((sum.result.files as { checksum: string }[])[0]!.checksum).toBe(
      createHash('sha1').update('fine\n').digest('hex'),
    );
  });

  it('a missing path is skipped with a warning', async () => {
    const r = await runModule(findModule, { paths: [s.path('nope')] });
    expect(r.result).toMatchObject({ matched: 0, msg: 'Not all paths examined, check warnings for details' });
    expect(r.result.skipped_paths).toEqual({ [s.path('nope')]: `'${s.path('nope')}' is not a directory` });
  });
});

describe('tempfile', () => {
  it('creates files and directories with prefix and suffix', async () => {
    const f = await runModule(tempfileModule, { path: s.dir, prefix: 'pre.', suffix: '.suf' });
    const p = String(f.result.path);
    expect(f.result).toMatchObject({ changed: true, state: 'file', mode: '0600' });
    expect(p.startsWith(`${s.dir}/pre.`) && p.endsWith('.suf')).toBe(true);
    expect(existsSync(p)).toBe(true);
    const d = await runModule(tempfileModule, { path: s.dir, state: 'directory' });
    expect(statSync(String(d.result.path)).isDirectory()).toBe(true);
    expect(d.result.path).not.toBe(p);
  });
});

describe('assemble', () => {
  it('concatenates fragments in name order with a delimiter, then is ok', async () => {
    mkdirSync(s.path('frags'));
    writeFileSync(s.path('frags/02-b'), 'b');
    writeFileSync(s.path('frags/01-a'), 'a\n');
    writeFileSync(s.path('frags/.hidden'), 'h\n');
    writeFileSync(s.path('frags/10-c'), 'c\n');
    const args = { src: s.path('frags'), dest: s.path('out'), delimiter: '### \\t', ignore_hidden: true };
    const before = snapshotTree(s.dir);
    const chk = await runModule(assembleModule, args, { check: true });
    expect(chk.result.changed).toBe(true);
    expect(snapshotTree(s.dir)).toEqual(before);
    const r = await runModule(assembleModule, args);
    expect(r.result.changed).toBe(true);
    expect(readFileSync(s.path('out'), 'utf8')).toBe('a\n### \t\nb\n### \t\nc\n');
    expect((await runModule(assembleModule, args)).result.changed).toBe(false);
    const re = await runModule(assembleModule, { src: s.path('frags'), dest: s.path('out2'), regexp: '^0' });
    expect(re.result.changed).toBe(true);
    expect(readFileSync(s.path('out2'), 'utf8')).toBe('a\nb');
  });
});

describe('unarchive', () => {
  function makeArchives() {
    mkdirSync(s.path('src/pkg/bin'), { recursive: true });
    writeFileSync(s.path('src/pkg/bin/run me'), '#!/bin/sh\necho hi\n');
    writeFileSync(s.path('src/pkg/README'), 'readme\n');
    symlinkSync('README', s.path('src/pkg/LINK'));
    execFileSync('tar', ['-czf', s.path('pkg.tar.gz'), '-C', s.path('src'), 'pkg']);
    execFileSync('tar', ['-cJf', s.path('pkg.tar.xz'), '-C', s.path('src'), 'pkg']);
    execFileSync('tar', ['-cjf', s.path('pkg.tar.bz2'), '-C', s.path('src'), 'pkg']);
    execFileSync('zip', ['-qry', s.path('pkg.zip'), 'pkg'], { cwd: s.path('src') });
  }

  for (const ext of ['tar.gz', 'tar.xz', 'tar.bz2', 'zip']) {
    it(`remote_src ${ext}: check, extract, rerun ok, change detected`, async () => {
      makeArchives();
      mkdirSync(s.path('dest'));
      const args = { src: s.path(`pkg.${ext}`), dest: s.path('dest'), remote_src: true, list_files: true };
      const before = snapshotTree(s.path('dest'));
      const chk = await runModule(unarchiveModule, args, { check: true });
      expect(chk.result.changed).toBe(true);
      expect(snapshotTree(s.path('dest'))).toEqual(before);
      const r = await runModule(unarchiveModule, args);
      expect(r.result.changed).toBe(true);
      expect(r.result.files).toEqual(
        expect.arrayContaining(['pkg', 'pkg/README', 'pkg/bin/run me', 'pkg/LINK']),
      );
      expect(readFileSync(s.path('dest/pkg/bin/run me'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect((await runModule(unarchiveModule, args)).result.changed).toBe(false);
      writeFileSync(s.path('dest/pkg/README'), 'edited');
      expect((await runModule(unarchiveModule, args)).result.changed).toBe(true);
      expect(readFileSync(s.path('dest/pkg/README'), 'utf8')).toBe('readme\n');
    });
  }

  it('uploads a controller archive on stdin; creates skips', async () => {
    makeArchives();
    mkdirSync(s.path('d2'));
    const files = { find: (_k: string, p: string) => p, read: async (p: string) => readFileSync(p) };
    const r = await runModule(
      unarchiveModule,
      { src: s.path('pkg.tar.gz'), dest: s.path('d2'), mode: 'go-rwx' },
      { files },
    );
    expect(r.result.changed).toBe(true);
    expect(statSync(s.path('d2/pkg/README')).mode & 0o777).toBe(0o600);
    const sk = await runModule(
      unarchiveModule,
      { src: s.path('pkg.tar.gz'), dest: s.path('d2'), creates: s.path('d2/pkg') },
      { files },
    );
    expect(sk.result).toMatchObject({ changed: false, msg: `skipped, since ${s.path('d2/pkg')} exists` });
  });

  it('a missing dest or a bad archive fails with a reason', async () => {
    writeFileSync(s.path('bad.tar.gz'), 'not an archive');
    mkdirSync(s.path('d3'));
    const a = await runModule(unarchiveModule, {
      src: s.path('bad.tar.gz'),
      dest: s.path('nodir'),
      remote_src: true,
    });
    expect(a.result).toMatchObject({
      failed: true,
      msg: `Destination '${s.path('nodir')}' is not a directory`,
    });
    const b = await runModule(unarchiveModule, {
      src: s.path('bad.tar.gz'),
      dest: s.path('d3'),
      remote_src: true,
    });
    expect(b.result.failed).toBe(true);
    expect(String(b.result.msg)).toMatch(/^Failed to extract [\s\S]*gzip/);
    rmSync(s.path('d3'), { recursive: true });
  });
});
