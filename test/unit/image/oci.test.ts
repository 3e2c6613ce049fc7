/**
 * Real overlay upper dir -> OCI layout, checked with skopeo and umoci (Debian packages) as
 * oracles. Needs root (mount, mknod, chown) as CI has.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashFile,
  type LayerInfo,
  layerFromDir,
  layerFromUpperDir,
  layerTarStream,
  MEDIA_TYPE,
  type OciImage,
  readOciImage,
  readTar,
  unpackLayers,
  writeDockerArchive,
  writeOciArchive,
  writeOciImage,
  writeRootfsTar,
} from '../../../src/image/index.js';
import { writeXattrs } from '../../../src/image/xattr.js';
import { listTree, run, sh } from './helpers.js';

const SDE = 1_700_000_000;
const OLD = 1_000_000_000; // older than SDE: kept as is
const longName = `${'n'.repeat(110)}/${'m'.repeat(120)}/${'o'.repeat(60)}`;

let dir: string;
let lower: string;
let upper: string;
let merged: string; // a copy of the overlay's merged view, taken while it was mounted

/** The base tree: a bit of everything a root filesystem has. */
async function makeLower(root: string): Promise<void> {
  await sh(`
    cd ${root}
    mkdir -p etc usr/bin dir-gone/sub opaque-dir/keep-not var/lib/app tmp ${longName}
    printf 'base\\n' > etc/config
    printf 'remove me\\n' > etc/remove-me
    printf 'x\\n' > dir-gone/sub/file
    printf 'old\\n' > opaque-dir/keep-not/old
    printf 'lower\\n' > opaque-dir/lower-file
    printf 'deep\\n' > ${longName}/f
    printf '#!/bin/sh\\necho hi\\n' > usr/bin/tool && chmod 4755 usr/bin/tool
    ln usr/bin/tool usr/bin/tool-link
    ln -s ../etc/config usr/config-link
    ln -s /etc var/abs-link
    mkfifo var/lib/fifo
    mknod var/lib/null c 1 3
    chown -R 1001:1002 var/lib/app && chmod 0750 var/lib/app
    printf 'data' > var/lib/app/data && chown 1001:1002 var/lib/app/data && chmod 0640 var/lib/app/data
    printf 'öld\\n' > 'etc/ünïcode name'
    touch -h -d @${OLD} etc/config usr/config-link
  `);
  await writeXattrs([
    { path: join(root, 'usr/bin/tool'), name: 'user.bin', value: Buffer.from([0, 0x80, 0xff]) },
  ]);
}

/** Changes made inside a real overlay mount, so the upper dir holds real whiteouts. */
const CHANGES = `
  rm etc/remove-me
  rm -rf dir-gone
  rm -rf opaque-dir && mkdir opaque-dir && printf 'new\\n' > opaque-dir/new
  printf 'changed\\n' >> etc/config
  mkdir -p srv/www && printf 'page' > srv/www/index.html
  chown 33:33 srv/www srv/www/index.html && chmod 2775 srv/www
  ln srv/www/index.html srv/www/index-hard.html
  ln -s www/index.html srv/link
  chmod 0700 var/lib/app
  printf junk > tmp/junk
  python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('var/sock')"
  mknod var/lib/zero c 1 5
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-image-'));
  lower = join(dir, 'lower');
  upper = join(dir, 'upper');
  merged = join(dir, 'merged-copy');
  for (const d of [lower, upper, join(dir, 'work'), join(dir, 'mnt'), merged]) await mkdir(d);
  await makeLower(lower);
  await run('unshare', [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-ec',
    `mount -t overlay overlay -o lowerdir=${lower},upperdir=${upper},workdir=${dir}/work ${dir}/mnt
     cd ${dir}/mnt
     ${CHANGES}
     cp -a ${dir}/mnt/. ${merged}/`,
  ]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function build(out: string, tag = 'v1'): Promise<OciImage> {
  const blobsDir = join(out, 'blobs', 'sha256');
  const base = await layerFromDir(lower, { blobsDir, sourceDateEpoch: SDE });
  const top = await layerFromUpperDir(upper, { blobsDir, sourceDateEpoch: SDE, exclude: ['/tmp/*'] });
  return writeOciImage({
    layoutDir: out,
    tag,
    layers: [base, top],
    config: {
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      cmd: ['/bin/sh'],
      labels: { b: '2', a: '1' },
      exposedPorts: ['22'],
      workdir: '/srv',
      user: '0',
    },
    history: [
      { created: '2023-11-14T22:13:20Z', created_by: 'base rootfs' },
      { created: '2023-11-14T22:13:20Z', created_by: 'provisioners', comment: 'drover build' },
    ],
    sourceDateEpoch: SDE,
  });
}

async function tarNames(layer: LayerInfo): Promise<string[]> {
  const names: string[] = [];
  for await (const e of readTar(layerTarStream(layer.blobPath, layer.mediaType))) names.push(e.name);
  return names;
}

// What the image must contain: the merged view, less the excluded /tmp contents and the socket.
const expectedSkip = (rel: string) => rel.startsWith('tmp/') || rel === 'var/sock';

describe('image layers from a real overlay', () => {
  let image: OciImage;
  beforeAll(async () => {
    image = await build(join(dir, 'oci'));
  });

  it('turns overlay whiteouts and opaque dirs into OCI ones, sorted, without sockets or excluded paths', async () => {
    const names = await tarNames(image.layers[1]!);
    expect(names).toContain('etc/.wh.remove-me');
    expect(names).toContain('.wh.dir-gone');
    expect(names).toContain('opaque-dir/.wh..wh..opq');
    expect(names.indexOf('opaque-dir/.wh..wh..opq')).toBe(names.indexOf('opaque-dir') + 1);
    expect(names).toContain('tmp');
    expect(names.filter((n) => n.startsWith('tmp/'))).toEqual([]);
    expect(names).not.toContain('var/sock');
    // whiteouts come first in their directory
    expect(names.indexOf('.wh.dir-gone')).toBe(0);
    const base = await tarNames(image.layers[0]!);
    expect(base).toContain(`${longName}/f`);
  });

  it('skopeo accepts the layout and reports the digests written', async () => {
    const { stdout } = await run('skopeo', ['inspect', `oci:${image.layoutDir}:v1`]);
    const info = JSON.parse(stdout) as {
      Digest: string;
      Layers: string[];
      Env: string[];
      Labels: Record<string, string>;
      Architecture: string;
    };
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(info.Env).toEqual(['PATH=/usr/bin:/bin', 'LANG=C.UTF-8']);
    expect(info.Labels).toEqual({ a: '1', b: '2' });
    const cfg = JSON.parse(
      (await run('skopeo', ['inspect', '--config', `oci:${image.layoutDir}:v1`])).stdout,
    ) as {
      created: string;
      rootfs: { diff_ids: string[] };
      config: { ExposedPorts: Record<string, object>; WorkingDir: string };
    };
    expect(cfg.created).toBe('2023-11-14T22:13:20Z');
    expect(cfg.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    expect(cfg.config.ExposedPorts).toEqual({ '22/tcp': {} });
  });

  it('umoci unpacks it to exactly the overlay merged view (owners, modes, links, xattrs, whiteouts)', async () => {
    const bundle = join(dir, 'bundle');
    await run('umoci', ['unpack', '--image', `${image.layoutDir}:v1`, bundle]);
    const want = await listTree(merged, { skip: expectedSkip });
    const got = await listTree(join(bundle, 'rootfs'));
    expect(got).toEqual(want);
    expect(got.join('\n')).not.toMatch(/remove-me|dir-gone|keep-not|lower-file/);
    expect(got.find((l) => l.startsWith('usr/bin/tool '))).toContain('x[user.bin=0080ff]');
    // mtimes: older than SOURCE_DATE_EPOCH kept, newer clamped
    const times = await listTree(join(bundle, 'rootfs'), { mtimes: true });
    expect(times.find((l) => l.startsWith('usr/config-link '))).toBeDefined();
    expect(times.find((l) => l.startsWith('srv/www/index.html '))).toMatch(new RegExp(`t=${SDE}$`));
    expect(times.find((l) => l.startsWith(`${longName}/f `))).toMatch(new RegExp(`t=${SDE}$`));
  });

  it('unpackLayers gives the same tree as umoci', async () => {
    const target = join(dir, 'unpacked');
    const read = await readOciImage(image.layoutDir, 'v1');
    expect(read.layers).toEqual(image.layers);
    expect(read.config).toMatchObject({ cmd: ['/bin/sh'], workdir: '/srv', exposedPorts: ['22/tcp'] });
    await unpackLayers(read.layers, target);
    expect(await listTree(target)).toEqual(await listTree(merged, { skip: expectedSkip }));
    const t = await listTree(target, { mtimes: true });
    expect(t.find((l) => l.startsWith('etc/config '))).toMatch(new RegExp(`t=${SDE}$`)); // rewritten in the upper layer
  });

  it('is byte-identical when rebuilt from copies of the trees (new inodes, new times)', async () => {
    const again = await build(join(dir, 'oci-again'));
    expect(again.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    expect(again.configDigest).toBe(image.configDigest);
    expect(again.manifestDigest).toBe(image.manifestDigest);
    // a copy of the base tree made later, files in another creation order
    const copy = join(dir, 'lower-copy');
    await sh(
      `mkdir ${copy} && cd ${lower} && ls -A | sort -r | while read -r f; do cp -a "$f" ${copy}/; done`,
    );
    const l2 = await layerFromDir(copy, { blobsDir: join(dir, 'blobs2'), sourceDateEpoch: SDE });
    expect(l2.digest).toBe(image.layers[0]!.digest);
    // the gzip header carries no name and no time
    const head = (await readFile(image.layers[0]!.blobPath)).subarray(0, 10);
    expect([...head.subarray(3, 8)]).toEqual([0, 0, 0, 0, 0]);
    // another epoch gives another digest: the test can fail
    const l3 = await layerFromDir(copy, { blobsDir: join(dir, 'blobs2'), sourceDateEpoch: SDE - 1 });
    expect(l3.digest).not.toBe(image.layers[0]!.digest);
  });

  it('skopeo copies it to a docker-archive and back', async () => {
    const f = join(dir, 'skopeo-docker.tar');
    await run('skopeo', ['copy', '-q', `oci:${image.layoutDir}:v1`, `docker-archive:${f}:drover/test:v1`]);
    const back = join(dir, 'oci-back');
    await run('skopeo', ['copy', '-q', `docker-archive:${f}`, `oci:${back}:v1`]);
    const info = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${back}:v1`])).stdout) as {
      rootfs: { diff_ids: string[] };
    };
    expect(info.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    // a layout written by another tool reads and unpacks the same (the oci:DIR:TAG source)
    const theirs = await readOciImage(back, 'v1');
    expect(theirs.layers.map((l) => l.diffId)).toEqual(image.layers.map((l) => l.diffId));
    const target = join(dir, 'unpacked-theirs');
    await unpackLayers(theirs.layers, target);
    expect(await listTree(target)).toEqual(await listTree(merged, { skip: expectedSkip }));
  });

  it('unpacks zstd and uncompressed layers too', async () => {
    const zst = join(dir, 'top.tar.zst');
    await sh(`gzip -dc ${image.layers[1]!.blobPath} > ${dir}/top.tar && zstd -q ${dir}/top.tar -o ${zst}`);
    const target = join(dir, 'unpacked-zstd');
    await unpackLayers(
      [
        image.layers[0]!,
        {
          ...image.layers[1]!,
          blobPath: zst,
          mediaType: MEDIA_TYPE.layerZstd,
          digest: `sha256:${await hashFile(zst)}`,
        },
      ],
      target,
    );
    expect(await listTree(target)).toEqual(await listTree(merged, { skip: expectedSkip }));
    const wrong = { ...image.layers[0]!, diffId: `sha256:${'0'.repeat(64)}` };
    await expect(unpackLayers([wrong], join(dir, 'unpacked-wrong'))).rejects.toThrow(
      /does not match its digests/,
    );
    const plain = await layerFromUpperDir(upper, {
      blobsDir: join(dir, 'plain'),
      sourceDateEpoch: SDE,
      exclude: ['/tmp/*'],
      compression: 'none',
    });
    expect(plain.diffId).toBe(image.layers[1]!.diffId);
    expect(plain.digest).toBe(plain.diffId);
    expect(plain.mediaType).toBe(MEDIA_TYPE.layerTar);
  });

  it('writes a docker-archive skopeo reads, and umoci unpacks after conversion', async () => {
    const f = join(dir, 'docker.tar');
    await writeDockerArchive(image, f, 'drover/test:v1');
    const info = JSON.parse((await run('skopeo', ['inspect', `docker-archive:${f}`])).stdout) as {
      Layers: string[];
      RepoTags: string[];
    };
    expect(info.Layers).toEqual(image.layers.map((l) => l.diffId));
    const conv = join(dir, 'oci-from-docker');
    await run('skopeo', ['copy', '-q', `docker-archive:${f}`, `oci:${conv}:x`]);
    const bundle = join(dir, 'bundle-docker');
    await run('umoci', ['unpack', '--image', `${conv}:x`, bundle]);
    expect(await listTree(join(bundle, 'rootfs'))).toEqual(await listTree(merged, { skip: expectedSkip }));
    const f2 = join(dir, 'docker2.tar');
    await writeDockerArchive(image, f2, 'drover/test:v1');
    expect(await readFile(f2)).toEqual(await readFile(f));
  });

  it('writes an oci-archive and a flattened rootfs tar', async () => {
    const f = join(dir, 'oci.tar');
    await writeOciArchive(image, f);
    const info = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${f}:v1`])).stdout) as {
      Digest: string;
    };
    expect(info.Digest).toBe(image.manifestDigest);
    const f2 = join(dir, 'oci2.tar');
    await writeOciArchive(image, f2);
    expect(await readFile(f2)).toEqual(await readFile(f));
    const r = join(dir, 'rootfs.tar');
    await writeRootfsTar(image, r, { sourceDateEpoch: SDE });
    const x = join(dir, 'rootfs-x');
    await sh(`mkdir ${x} && tar --numeric-owner --xattrs --xattrs-include='*' -xpf ${r} -C ${x}`);
    // GNU tar as the oracle of the writer: same tree back (times are clamped, so no mtimes)
    expect(await listTree(x)).toEqual(await listTree(merged, { skip: expectedSkip }));
    const r2 = join(dir, 'rootfs2.tar');
    await writeRootfsTar(image, r2, { sourceDateEpoch: SDE });
    expect(await readFile(r2)).toEqual(await readFile(r));
  });

  it('extends a layout with a second tag and keeps the first', async () => {
    const out = join(dir, 'oci');
    const second = await writeOciImage({
      layoutDir: out,
      tag: 'base',
      layers: [image.layers[0]!],
      config: {},
      history: [],
      sourceDateEpoch: SDE,
    });
    expect((await readOciImage(out, 'v1')).manifestDigest).toBe(image.manifestDigest);
    expect((await readOciImage(out, 'base')).manifestDigest).toBe(second.manifestDigest);
    await expect(readOciImage(out, 'nope')).rejects.toThrow(/no image tagged 'nope'.*|tags there/);
  });
});
