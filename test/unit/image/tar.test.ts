import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  END_OF_ARCHIVE,
  encodeHeader,
  padding,
  type ReadEntry,
  readTar,
  type TarHeader,
} from '../../../src/image/tar.js';
import { run, sh } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-tar-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function archive(entries: { h: TarHeader; body?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { h, body } of entries) {
    parts.push(encodeHeader(h));
    if (body) parts.push(body, Buffer.alloc(padding(body.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function readAll(
  buf: Buffer | AsyncIterable<Buffer>,
): Promise<(Omit<ReadEntry, 'body'> & { data: string })[]> {
  const src = Buffer.isBuffer(buf) ? [buf] : buf;
  const out: (Omit<ReadEntry, 'body'> & { data: string })[] = [];
  for await (const e of readTar(
    (async function* () {
      yield* src;
    })(),
  )) {
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(c);
    const { body: _b, ...rest } = e;
    out.push({ ...rest, data: Buffer.concat(chunks).toString('utf8') });
  }
  return out;
}

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 };
const longDir = `${'d'.repeat(120)}/${'e'.repeat(90)}`;
const veryLong = `${'x'.repeat(200)}/${'y'.repeat(150)}/file`;
const binary = Buffer.from([0x00, 0x80, 0xff, 0x0a, 0x3d]);

describe('tar writer and reader', () => {
  const entries: { h: TarHeader; body?: Buffer }[] = [
    { h: { ...base, name: 'etc', type: 'dir', mode: 0o755 } },
    { h: { ...base, name: 'etc/hostname', type: 'file', size: 6 }, body: Buffer.from('drover') },
    { h: { ...base, name: longDir, type: 'dir', mode: 0o700, uid: 1000, gid: 1000 } },
    {
      h: { ...base, name: veryLong, type: 'file', size: 3, uid: 3_000_000, gid: 4_000_000 },
      body: Buffer.from('abc'),
    },
    { h: { ...base, name: 'über/ñame', type: 'symlink', linkname: `../${'z'.repeat(150)}` } },
    { h: { ...base, name: 'etc/hard', type: 'link', linkname: 'etc/hostname' } },
    { h: { ...base, name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 } },
    {
      h: {
        ...base,
        name: 'bin/ping',
        type: 'file',
        mode: 0o4755,
        xattrs: { 'user.bin': binary, 'user.txt': Buffer.from('a b=c') },
      },
    },
    { h: { ...base, name: 'run/fifo', type: 'fifo' } },
  ];
  const tar = archive(entries);

  it('round-trips names, owners, modes, links, devices and binary xattrs', async () => {
    const got = await readAll(tar);
    expect(got.map((e) => e.name)).toEqual(entries.map((e) => e.h.name));
    expect(got[3]).toMatchObject({ uid: 3_000_000, gid: 4_000_000, data: 'abc' });
    expect(got[4]!.linkname).toBe(`../${'z'.repeat(150)}`);
    expect(got[5]).toMatchObject({ type: 'link', linkname: 'etc/hostname' });
    expect(got[6]).toMatchObject({ type: 'char', devmajor: 1, devminor: 3, mode: 0o666 });
    expect(got[7]!.mode).toBe(0o4755);
    expect(got[7]!.xattrs!['user.bin']!.equals(binary)).toBe(true);
    expect(got[7]!.xattrs!['user.txt']!.toString()).toBe('a b=c');
    expect(got[1]).toMatchObject({ data: 'drover', mtime: 1700000000 });
  });

  it('is read by GNU tar the same way (names, numeric owners, xattrs)', async () => {
    const f = join(dir, 'w.tar');
    await writeFile(f, tar);
    const { stdout } = await run('tar', ['--numeric-owner', '--xattrs', '-tvf', f]);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(entries.length);
    expect(lines[3]).toContain('3000000/4000000');
    expect(lines[3]).toContain(veryLong);
    expect(lines[4]).toContain(`über/ñame -> ../${'z'.repeat(150)}`);
    expect(lines[5]).toContain('etc/hard link to etc/hostname');
    expect(lines[7]).toMatch(/^-rwsr-xr-x/);
    // No atime/ctime records anywhere, no user or group names.
    expect(tar.includes('atime=')).toBe(false);
    expect(tar.includes('ctime=')).toBe(false);
    expect(stdout).not.toMatch(/root/);
    // xattrs arrive on extraction.
    const out = join(dir, 'x');
    await sh(`mkdir -p ${out} && tar --xattrs --xattrs-include='*' -xpf ${f} -C ${out} bin/ping`);
    const v = await sh(`python3 -c "import os;print(os.getxattr('${out}/bin/ping','user.bin').hex())"`);
    expect(v.trim()).toBe(binary.toString('hex'));
  });

  it('reads archives GNU tar writes (gnu and pax formats, long names)', async () => {
    const src = join(dir, 'src');
    await sh(
      `mkdir -p ${src}/${longDir} && printf hello > ${src}/${longDir}/f && ln -s ${'t'.repeat(130)} ${src}/sl && chown 12345:54321 ${src}/sl -h`,
    );
    for (const format of ['gnu', 'pax']) {
      const f = join(dir, `${format}.tar`);
      await run('tar', [`--format=${format}`, '-cf', f, '-C', src, '.']);
      const got = await readAll(
        await import('node:fs').then((m) => m.createReadStream(f, { highWaterMark: 700 })),
      );
      const file = got.find((e) => e.name === `${longDir}/f`);
      expect(file, format).toMatchObject({ type: 'file', data: 'hello' });
      expect(
        got.find((e) => e.name === 'sl'),
        format,
      ).toMatchObject({ linkname: 't'.repeat(130), uid: 12345, gid: 54321 });
    }
  });

  it('encodes sizes of 8 GiB and more in a pax record', async () => {
    const h = encodeHeader({ ...base, name: 'big', type: 'file', size: 9 * 2 ** 30 });
    expect(h.toString('latin1')).toContain(`size=${9 * 2 ** 30}\n`);
    const it = readTar(
      (async function* () {
        yield h;
      })(),
    );
    const first = await it.next();
    expect(first.value?.size).toBe(9 * 2 ** 30);
  });

  it('rejects a corrupt header', async () => {
    const bad = Buffer.from(tar);
    bad[10] = 0x41;
    await expect(readAll(bad)).rejects.toThrow(/checksum/);
  });
});
