import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compileExcludes,
  compressFile,
  type LayerInfo,
  MEDIA_TYPE,
  unpackLayers,
  writeChecksums,
} from '../../../src/image/index.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from '../../../src/image/tar.js';
import { listTree, run, sh } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-unpack-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function layer(entries: (Partial<TarHeader> & { name: string; body?: string })[]): Promise<LayerInfo> {
  const parts: Buffer[] = [];
  for (const { body, ...e } of entries) {
    const data = Buffer.from(body ?? '');
    parts.push(
      encodeHeader({
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: data.length,
        mtime: 1_600_000_000,
        ...e,
      }),
    );
    if (data.length) parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  const blobPath = join(dir, `layer-${n++}.tar`);
  await writeFile(blobPath, Buffer.concat(parts));
  return { digest: 'sha256:x', diffId: 'sha256:x', size: 0, mediaType: MEDIA_TYPE.layerTar, blobPath };
}

describe('unpackLayers', () => {
  it('applies whiteouts to lower layers only and keeps what the same layer adds', async () => {
    const l1 = await layer([
      { name: 'a', type: 'dir', mode: 0o755 },
      { name: 'a/old', body: 'old' },
      { name: 'a/sub', type: 'dir', mode: 0o755 },
      { name: 'a/sub/deep', body: 'deep' },
      { name: 'b', body: 'b' },
      { name: 'c', type: 'dir', mode: 0o755 },
      { name: 'c/x', body: 'x' },
      { name: 'd', type: 'dir', mode: 0o755 },
      { name: 'd/y', body: 'y' },
    ]);
    const l2 = await layer([
      { name: '.wh.b' },
      { name: '.wh.c' },
      { name: 'a', type: 'dir', mode: 0o750, uid: 7, gid: 8 },
      { name: 'a/.wh..wh..opq' },
      { name: 'a/new', body: 'new' },
      { name: 'c', body: 'now a file' },
      { name: 'd', type: 'symlink', linkname: 'a' },
    ]);
    const t = join(dir, 't1');
    await unpackLayers([l1, l2], t);
    expect((await listTree(t)).map((l) => l.split(' ').slice(0, 4).join(' '))).toEqual([
      'a d 750 7:8',
      'a/new f 644 0:0',
      'c f 644 0:0',
      'd l 777 0:0',
    ]);
    expect(await readFile(join(t, 'c'), 'utf8')).toBe('now a file');
    expect(await readlink(join(t, 'd'))).toBe('a');
  });

  it('keeps writes inside the target through absolute and ".." symlinks', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const l1 = await layer([
      { name: 'abs', type: 'symlink', linkname: outside },
      { name: 'up', type: 'symlink', linkname: '../../../../..' },
      { name: 'abs/escaped', body: 'no' },
      { name: 'up/tmp/escaped2', body: 'no' },
    ]);
    const t = join(dir, 't2');
    await unpackLayers([l1], t);
    await expect(lstat(join(outside, 'escaped'))).rejects.toThrow();
    expect(await readFile(join(t, outside, 'escaped'), 'utf8')).toBe('no');
    expect(await readFile(join(t, 'tmp/escaped2'), 'utf8')).toBe('no');
    expect(await readlink(join(t, 'abs'))).toBe(outside);
    const bad = await layer([{ name: 'x/../../etc/passwd', body: 'no' }]);
    await expect(unpackLayers([bad], join(dir, 't3'))).rejects.toThrow(/escapes the root/);
  });
});

describe('post-processing helpers', () => {
  it('compresses deterministically with gzip, zstd and xz, and writes sha256sum-compatible checksums', async () => {
    const f = join(dir, 'artifact.tar');
    await writeFile(f, Buffer.alloc(100_000, 'drover '));
    const outs: string[] = [];
    for (const fmt of ['gzip', 'zstd', 'xz'] as const) {
      const a = join(dir, `a.${fmt}`);
      const b = join(dir, `b.${fmt}`);
      await compressFile(f, a, fmt);
      await compressFile(f, b, fmt);
      expect(await readFile(a)).toEqual(await readFile(b));
      const tool = fmt === 'xz' ? 'xz' : fmt === 'zstd' ? 'zstd' : 'gzip';
      expect(await sh(`${tool} -dc ${a} | sha256sum`)).toBe(await sh(`sha256sum < ${f}`));
      outs.push(a);
    }
    const sums = join(dir, 'SHA256SUMS');
    await writeChecksums([f, ...outs], sums, 'sha256');
    const { stdout } = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir });
    expect(stdout.trim().split('\n')).toHaveLength(4);
    await writeChecksums([f], join(dir, 'SHA512SUMS'), 'sha512');
    await run('sha512sum', ['-c', 'SHA512SUMS'], { cwd: dir });
    await expect(compressFile(join(dir, 'missing'), join(dir, 'm.gz'), 'gzip')).rejects.toThrow(
      /no such file/,
    );
  });

  it('matches exclude globs on absolute in-image paths', () => {
    const m = compileExcludes(['/tmp/*', 'run/*', '/var/cache/**/*.bin', '/etc/?ostname']);
    expect(m('/tmp')).toBe(false);
    expect(m('/tmp/x')).toBe(true);
    expect(m('/run/lock')).toBe(true);
    expect(m('/var/cache/a/b/c.bin')).toBe(true);
    expect(m('/var/cache/c.txt')).toBe(false);
    expect(m('/etc/hostname')).toBe(true);
    expect(m('/etc/xhostname')).toBe(false);
  });
});
