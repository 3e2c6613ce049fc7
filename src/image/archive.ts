/** Post-processors (Packer style): archives of an image, checksums, compression. */

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '../errors.js';
import { GZIP_ARGS, hashFile, layerTarStream, pipeThrough } from './blob.js';
import { treeTar } from './layer.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar.js';
import type { OciImage } from './types.js';
import { unpackLayers } from './unpack.js';

async function writeAtomically(outFile: string, body: AsyncIterable<Buffer>): Promise<void> {
  await mkdir(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp-${process.pid}`;
  try {
    await pipeline(Readable.from(body), createWriteStream(tmp));
    await rename(tmp, outFile);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The image's layout dir as one tar (`oci-archive:FILE:TAG` for skopeo). */
export async function writeOciArchive(image: OciImage, outFile: string): Promise<void> {
  await writeAtomically(
    outFile,
    treeTar(image.layoutDir, {
      sourceDateEpoch: 0,
      fixedOwner: true,
      noXattrs: true,
      exclude: ['/**/.tmp-*', '/**/*.tmp-*'],
    }),
  );
}

function fileEntry(name: string, data: Buffer): Buffer[] {
  return [
    encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0 }),
    data,
    Buffer.alloc(padding(data.length)),
  ];
}

async function uncompressedSize(blobPath: string, mediaType: string): Promise<number> {
  let n = 0;
  for await (const chunk of layerTarStream(blobPath, mediaType)) n += chunk.length;
  return n;
}

/** A `docker load`-able archive: uncompressed layer tars, the config, manifest.json, repositories. */
export async function writeDockerArchive(image: OciImage, outFile: string, repoTag: string): Promise<void> {
  const lastColon = repoTag.lastIndexOf(':');
  const hasTag = lastColon > repoTag.lastIndexOf('/');
  const repo = hasTag ? repoTag.slice(0, lastColon) : repoTag;
  const tag = hasTag ? repoTag.slice(lastColon + 1) : 'latest';
  if (!repo || !/^[a-z0-9][a-z0-9._\-/:]*$/.test(repo) || !/^[\w][\w.-]{0,127}$/.test(tag)) {
    throw new UsageError(
      `bad repository:tag '${repoTag}' for a docker archive`,
      'use lower-case name[:tag], e.g. drover/base:1',
    );
  }
  const sizes: number[] = [];
  for (const l of image.layers) sizes.push(await uncompressedSize(l.blobPath, l.mediaType));
  const configHex = image.configDigest.replace(/^sha256:/, '');
  const configBytes = await readFile(join(image.layoutDir, 'blobs', 'sha256', configHex));
  const layerNames = image.layers.map((l) => `${l.diffId.replace(/^sha256:/, '')}.tar`);
  const manifest = [{ Config: `${configHex}.json`, RepoTags: [`${repo}:${tag}`], Layers: layerNames }];
  const lastLayer = image.layers.at(-1)?.diffId.replace(/^sha256:/, '') ?? '';
  const repositories = { [repo]: { [tag]: lastLayer } };
  async function* body(): AsyncGenerator<Buffer> {
    const seen = new Set<string>();
    for (let i = 0; i < image.layers.length; i++) {
      const l = image.layers[i]!;
      const name = layerNames[i]!;
      if (seen.has(name)) continue; // the same layer twice: one file, listed twice
      seen.add(name);
      yield encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: sizes[i]!, mtime: 0 });
      let n = 0;
      for await (const chunk of layerTarStream(l.blobPath, l.mediaType)) {
        n += chunk.length;
        yield chunk;
      }
      if (n !== sizes[i]) throw new Error(`layer ${l.digest} changed while it was archived`);
      const pad = padding(n);
      if (pad) yield Buffer.alloc(pad);
    }
    yield* fileEntry(`${configHex}.json`, configBytes);
    yield* fileEntry('manifest.json', Buffer.from(JSON.stringify(manifest)));
    yield* fileEntry('repositories', Buffer.from(JSON.stringify(repositories)));
    yield END_OF_ARCHIVE;
  }
  await writeAtomically(outFile, body());
}

/** The flattened root filesystem of the image as one uncompressed tar. */
export async function writeRootfsTar(
  image: OciImage,
  outFile: string,
  opts: { sourceDateEpoch: number },
): Promise<void> {
  const work = `${outFile}.rootfs-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  try {
    await unpackLayers(image.layers, work);
    await writeAtomically(outFile, treeTar(work, { sourceDateEpoch: opts.sourceDateEpoch }));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `sha256sum`-format lines ("HEX  NAME", names relative to the checksum file's dir). */
export async function writeChecksums(
  files: string[],
  outFile: string,
  algo: 'sha256' | 'sha512',
): Promise<void> {
  const lines: string[] = [];
  for (const f of files) lines.push(`${await hashFile(f, algo)}  ${relative(dirname(outFile), f)}`);
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, lines.map((l) => `${l}\n`).join(''));
}

const COMPRESSORS: Record<'gzip' | 'zstd' | 'xz', { cmd: string; args: string[]; pkg: string }> = {
  gzip: { cmd: 'gzip', args: GZIP_ARGS, pkg: 'gzip' },
  // single-threaded: the output then does not depend on the number of cores.
  zstd: { cmd: 'zstd', args: ['-q', '-c', '-3', '--single-thread'], pkg: 'zstd' },
  xz: { cmd: 'xz', args: ['-c', '-6', '-T1'], pkg: 'xz-utils' },
};

/** Compresses `file` into `outFile` with Debian's tools (deterministic settings). */
export async function compressFile(
  file: string,
  outFile: string,
  format: 'gzip' | 'zstd' | 'xz',
): Promise<void> {
  const c = COMPRESSORS[format];
  if (!c) throw new UsageError(`unknown compression format '${format}'`, 'use gzip, zstd or xz');
  await stat(file).catch(() => {
    throw new UsageError(`cannot compress ${file}: no such file`);
  });
  await mkdir(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp-${process.pid}`;
  try {
    await pipeThrough(c.cmd, c.args, createReadStream(file), [], createWriteStream(tmp), c.pkg);
    await rename(tmp, outFile);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
