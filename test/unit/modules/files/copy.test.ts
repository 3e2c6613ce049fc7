import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyModule } from '../../../../modules/files/copy.js';
import { runModule, scratch } from '../harness.js';
import { snapshotTree } from './tree.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

describe('copy content', () => {
  it('writes, then is idempotent, check mode leaves the dir untouched', async () => {
    const dest = s.path('a.txt');
    const before = snapshotTree(s.dir);
    const chk = await runModule(copyModule, { content: 'hello\n', dest }, { check: true, diff: true });
    expect(chk.result).toMatchObject({ changed: true });
    // a new file: no before header (as Ansible's copy action), the content named as generated
    expect(chk.result.diff).toEqual({ before: '', after: 'hello\n', after_header: 'dynamically generated' });
    expect(snapshotTree(s.dir)).toEqual(before);

    const first = await runModule(copyModule, { content: 'hello\n', dest, mode: '0640' });
    expect(first.result).toMatchObject({
      changed: true,
      dest,
      mode: '0640',
      state: 'file',
      size: 6,
      checksum: 'f572d396fae9206628714fb2ce00f72e94f2258f',
    });
    expect(readFileSync(dest, 'utf8')).toBe('hello\n');
    expect(statSync(dest).mode & 0o7777).toBe(0o640);
    const second = await runModule(copyModule, { content: 'hello\n', dest, mode: '0640' });
    expect(second.result.changed).toBe(false);
    expect(readdirSync(s.dir)).toEqual(['a.txt']);
  });

  it('reports diff before-text and makes a backup', async () => {
    const dest = s.path('b.conf');
    writeFileSync(dest, 'old\n');
    const r = await runModule(copyModule, { content: 'new\n', dest, backup: true }, { diff: true });
    expect(r.result.changed).toBe(true);
    expect(r.result.diff).toMatchObject({ before: 'old\n', after: 'new\n' });
    const backup = String(r.result.backup_file);
    expect(backup.startsWith(`${dest}.`)).toBe(true);
    expect(backup.endsWith('~')).toBe(true);
    expect(readFileSync(backup, 'utf8')).toBe('old\n');
    expect(readFileSync(dest, 'utf8')).toBe('new\n');
  });

  it('validate failure leaves the old file intact', async () => {
    const dest = s.path('c.conf');
    writeFileSync(dest, 'good\n');
    const r = await runModule(copyModule, { content: 'bad\n', dest, validate: 'grep -q good %s' });
    expect(r.result).toMatchObject({ failed: true, msg: 'failed to validate', exit_status: 1 });
    expect(readFileSync(dest, 'utf8')).toBe('good\n');
    expect(readdirSync(s.dir)).toEqual(['c.conf']);
    const ok = await runModule(copyModule, { content: 'good too\n', dest, validate: 'grep -q good %s' });
    expect(ok.result.changed).toBe(true);
  });

  it('validate without %s fails before touching the host', async () => {
    const r = await runModule(copyModule, { content: 'x', dest: s.path('v'), validate: 'true' });
    expect(r.result).toMatchObject({ failed: true, msg: 'validate must contain %s: true' });
    expect(r.scripts).toEqual([]);
  });

  it('force=no keeps an existing file', async () => {
    const dest = s.path('keep');
    writeFileSync(dest, 'mine');
    const r = await runModule(copyModule, { content: 'theirs', dest, force: false });
    expect(r.result.changed).toBe(false);
    expect(readFileSync(dest, 'utf8')).toBe('mine');
  });

  it('symbolic modes are applied by chmod and are idempotent', async () => {
    const dest = s.path('sym');
    writeFileSync(dest, 'x');
    chmodSync(dest, 0o600);
    const r = await runModule(copyModule, { content: 'x', dest, mode: 'u+x,g+r,o-rwx' });
    expect(r.result).toMatchObject({ changed: true, mode: '0740' });
    const again = await runModule(copyModule, { content: 'x', dest, mode: 'u+x,g+r,o-rwx' });
    expect(again.result.changed).toBe(false);
  });

  it('an int mode is its numeric value (YAML 0644 → 420)', async () => {
    const dest = s.path('int');
    const r = await runModule(copyModule, { content: 'x', dest, mode: 0o600 });
    expect(r.result.mode).toBe('0600');
  });

  it('bad mode fails validation with a hint', async () => {
    const r = await runModule(copyModule, { content: 'x', dest: s.path('m'), mode: 'rwxr-xr-x' });
    expect(r.result.failed).toBe(true);
    expect(String(r.result.msg)).toMatch(/octal or symbolic/);
  });

  it('content into a dir is refused, missing parent fails with the dir named', async () => {
    const r = await runModule(copyModule, { content: 'x', dest: `${s.dir}/` });
    expect(r.result).toMatchObject({ failed: true, msg: 'can not use content with a dir as dest' });
    const m = await runModule(copyModule, { content: 'x', dest: s.path('no/such/file') });
    expect(m.result).toMatchObject({
      failed: true,
      msg: `Destination directory ${s.path('no/such')} does not exist`,
    });
  });

  it('replaces a symlink at dest with a file (follow=no)', async () => {
    writeFileSync(s.path('target'), 'x');
    symlinkSync('target', s.path('link'));
    const r = await runModule(copyModule, { content: 'x', dest: s.path('link') });
    expect(r.result.changed).toBe(true);
    expect(statSync(s.path('link')).isFile()).toBe(true);
    expect(readFileSync(s.path('target'), 'utf8')).toBe('x');
  });
});

describe('copy src from the controller', () => {
  function controller(root: string) {
    return {
      find: (_kind: string, p: string) => (p.startsWith('/') ? p : `${root}/${p}`),
      read: async (p: string) => readFileSync(p),
      walk: async (dir: string) => {
        const out: { path: string; type: 'file' | 'dir' | 'link'; mode: number }[] = [];
        const rec = (rel: string) => {
          for (const name of readdirSync(`${dir}/${rel}`)) {
            const r = rel ? `${rel}/${name}` : name;
            const st = statSync(`${dir}/${r}`);
            out.push({ path: r, type: st.isDirectory() ? 'dir' : 'file', mode: st.mode });
            if (st.isDirectory()) rec(r);
          }
        };
        rec('');
        return out;
      },
    };
  }

  it('copies a file into an existing dir as dest/basename', async () => {
    const ctl = scratch();
    try {
      writeFileSync(`${ctl.dir}/motd`, 'welcome\n');
      chmodSync(`${ctl.dir}/motd`, 0o751);
      mkdirSync(s.path('etc'));
      const r = await runModule(
        copyModule,
        { src: 'motd', dest: s.path('etc'), mode: 'preserve' },
        { files: controller(ctl.dir) },
      );
      expect(r.result).toMatchObject({ changed: true, dest: s.path('etc/motd'), mode: '0751' });
      expect(readFileSync(s.path('etc/motd'), 'utf8')).toBe('welcome\n');
      const r2 = await runModule(
        copyModule,
        { src: 'motd', dest: `${s.path('new')}/` },
        { files: controller(ctl.dir) },
      );
      expect(r2.result).toMatchObject({ changed: true, dest: s.path('new/motd') });
    } finally {
      ctl.cleanup();
    }
  });

  it('copies a directory tree (with and without trailing slash), idempotently, check mode first', async () => {
    const ctl = scratch();
    try {
      mkdirSync(`${ctl.dir}/conf/sub dir`, { recursive: true });
      writeFileSync(`${ctl.dir}/conf/a`, 'A\n');
      writeFileSync(`${ctl.dir}/conf/sub dir/b $x`, Buffer.from([0, 1, 2, 255, 10]));
      const files = controller(ctl.dir);
      const before = snapshotTree(s.dir);
      const chk = await runModule(copyModule, { src: 'conf', dest: s.dir }, { check: true, files });
      expect(chk.result.changed).toBe(true);
      expect(snapshotTree(s.dir)).toEqual(before);
      const r = await runModule(copyModule, { src: 'conf', dest: s.dir, mode: '0600' }, { files });
      expect(r.result).toMatchObject({ changed: true, dest: s.path('conf') });
      expect(readFileSync(s.path('conf/sub dir/b $x'))).toEqual(Buffer.from([0, 1, 2, 255, 10]));
      expect(statSync(s.path('conf/a')).mode & 0o777).toBe(0o600);
      const again = await runModule(copyModule, { src: 'conf', dest: s.dir, mode: '0600' }, { files });
      expect(again.result.changed).toBe(false);
      const contents = await runModule(copyModule, { src: 'conf/', dest: s.path('flat') }, { files });
      expect(contents.result.changed).toBe(true);
      expect(existsSync(s.path('flat/a'))).toBe(true);
    } finally {
      ctl.cleanup();
    }
  });

  it('a missing src says where to look', async () => {
    const r = await runModule(copyModule, { src: 'nope', dest: s.dir });
    expect(r.result.failed).toBe(true);
    expect(String(r.result.msg)).toMatch(/Could not find or access 'nope'/);
  });
});

describe('copy remote_src', () => {
  it('copies a file and a tree already on the target', async () => {
    writeFileSync(s.path('orig'), 'data\n');
    const r = await runModule(copyModule, { src: s.path('orig'), dest: s.path('dup'), remote_src: true });
    expect(r.result).toMatchObject({
      changed: true,
      checksum: createHash('sha1').update('data\n').digest('hex'),
    });
    expect(readFileSync(s.path('dup'), 'utf8')).toBe('data\n');
    expect(
      (await runModule(copyModule, { src: s.path('orig'), dest: s.path('dup'), remote_src: true })).result
        .changed,
    ).toBe(false);
    mkdirSync(s.path('tree/x'), { recursive: true });
    writeFileSync(s.path('tree/x/f'), 'f');
    const t = await runModule(copyModule, { src: s.path('tree'), dest: s.path('out'), remote_src: true });
    expect(t.result.changed).toBe(true);
    expect(readFileSync(s.path('out/tree/x/f'), 'utf8')).toBe('f');
    const t2 = await runModule(copyModule, { src: s.path('tree'), dest: s.path('out'), remote_src: true });
    expect(t2.result.changed).toBe(false);
  });
});

describe('copy tree through the runner controllerFiles', () => {
  it('follows links to files, keeps dangling links as links', async () => {
    const { controllerFiles } = await import('../../../../src/runner/controller-files.js');
    const ctl = scratch();
    try {
      mkdirSync(`${ctl.dir}/t`);
      writeFileSync(`${ctl.dir}/t/real`, 'R');
      symlinkSync('real', `${ctl.dir}/t/alias`);
      symlinkSync('nowhere', `${ctl.dir}/t/dangling`);
      const r = await runModule(
        copyModule,
        { src: `${ctl.dir}/t`, dest: s.dir },
        { files: controllerFiles([]) },
      );
      expect(r.result.changed).toBe(true);
      expect(readFileSync(s.path('t/alias'), 'utf8')).toBe('R');
      expect(lstatSync(s.path('t/alias')).isSymbolicLink()).toBe(false);
      expect(readlinkSync(s.path('t/dangling'))).toBe('nowhere');
      const again = await runModule(
        copyModule,
        { src: `${ctl.dir}/t`, dest: s.dir },
        { files: controllerFiles([]) },
      );
      expect(again.result.changed).toBe(false);
    } finally {
      ctl.cleanup();
    }
  });
});

describe('copy edge cases', () => {
  it('a large binary file goes through stdin intact and is not diffed', async () => {
    const s2 = scratch();
    try {
      const big = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
      writeFileSync(`${s2.dir}/blob.src`, big);
      writeFileSync(`${s2.dir}/blob`, 'old');
      const files = { find: (_k: string, p: string) => p, read: async (p: string) => readFileSync(p) };
      const r = await runModule(
        copyModule,
        { src: `${s2.dir}/blob.src`, dest: `${s2.dir}/blob` },
        { files, diff: true },
      );
      expect(r.result.changed).toBe(true);
      expect(readFileSync(`${s2.dir}/blob`).equals(big)).toBe(true);
      expect(r.result.diff).toMatchObject({ before: 'old', after: '' });
    } finally {
      s2.cleanup();
    }
  });

  it('validate: %% is a literal percent sign, like Python formatting', async () => {
    const s2 = scratch();
    try {
      const r = await runModule(copyModule, {
        content: '100%\n',
        dest: `${s2.dir}/p`,
        validate: "grep -q '0%%' %s",
      });
      expect(r.result.changed).toBe(true);
    } finally {
      s2.cleanup();
    }
  });

  it('checksum must match the source', async () => {
    const s2 = scratch();
    try {
      writeFileSync(`${s2.dir}/src`, 'abc');
      const files = { find: (_k: string, p: string) => p, read: async (p: string) => readFileSync(p) };
      const r = await runModule(
        copyModule,
        { src: `${s2.dir}/src`, dest: `${s2.dir}/dst`, checksum: 'deadbeef' },
        { files },
      );
      expect(r.result).toMatchObject({ failed: true, expected_checksum: 'deadbeef' });
      expect(existsSync(`${s2.dir}/dst`)).toBe(false);
    } finally {
      s2.cleanup();
    }
  });

  it('symbolic X adds execute to directories, not to plain files', async () => {
    const s2 = scratch();
    try {
      const { fileModule } = await import('../../../../modules/files/file.js');
      mkdirSync(`${s2.dir}/d`);
      chmodSync(`${s2.dir}/d`, 0o600);
      writeFileSync(`${s2.dir}/f`, '');
      chmodSync(`${s2.dir}/f`, 0o600);
      expect((await runModule(fileModule, { path: `${s2.dir}/d`, mode: 'a+X' })).result.mode).toBe('0711');
      expect((await runModule(fileModule, { path: `${s2.dir}/f`, mode: 'a+X' })).result).toMatchObject({
        changed: false,
        mode: '0600',
      });
    } finally {
      s2.cleanup();
    }
  });
});
