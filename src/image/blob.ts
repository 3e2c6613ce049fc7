/**
 * Blobs on disk, named by digest. Layer tars go through Debian's `gzip -n` (ADR 102): its
 * deflate output has not changed in decades and does not depend on the CPU, unlike the
 * zlib build inside a given Node release; `-n` keeps name and mtime out of the header.
 */

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ControllerError } from '../errors.js';

export const GZIP_ARGS = ['-n', '-6', '-c'];

export interface WrittenBlob {
  digest: string;
  diffId: string;
  size: number;
  /** Bytes of the uncompressed stream. */
  uncompressedSize: number;
  blobPath: string;
}

function hashTap(hash: ReturnType<typeof createHash>, counter: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      counter.n += chunk.length;
      cb(null, chunk);
    },
  });
}

function toolMissing(tool: string, pkg: string): ControllerError {
  return new ControllerError(`${tool} is not installed`, `install it: apt-get install ${pkg}`);
}

/** Runs `cmd args` with `input` on stdin and its stdout into `output` (a writable). */
export async function pipeThrough(
  cmd: string,
  args: string[],
  input: NodeJS.ReadableStream | Readable,
  outputTaps: Transform[],
  output: NodeJS.WritableStream,
  pkg: string,
): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? toolMissing(cmd, pkg) : e));
    child.on('close', (code) => resolve(code ?? 1));
  });
  try {
    const [, , code] = await Promise.all([
      pipeline(input, child.stdin),
      (pipeline as (streams: readonly unknown[]) => Promise<void>)([child.stdout, ...outputTaps, output]),
      exited,
    ]);
    if (code !== 0) {
      throw new ControllerError(
        `${cmd} failed (exit ${code}): ${Buffer.concat(err).toString('utf8').trim()}`,
      );
    }
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

/** Writes a tar stream as a blob (gzip-compressed or not) into `blobsDir/<hex>`. */
export async function writeTarBlob(
  tar: AsyncIterable<Buffer>,
  blobsDir: string,
  compression: 'gzip' | 'none',
): Promise<WrittenBlob> {
  await mkdir(blobsDir, { recursive: true });
  const tmp = join(blobsDir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  const raw = { n: 0 };
  const stored = { n: 0 };
  try {
    const source = Readable.from(tar).pipe(hashTap(diffHash, raw));
    if (compression === 'gzip') {
      await pipeThrough(
        'gzip',
        GZIP_ARGS,
        source,
        [hashTap(blobHash, stored)],
        createWriteStream(tmp),
        'gzip',
      );
    } else {
      await pipeline(source, hashTap(blobHash, stored), createWriteStream(tmp));
    }
    const hex = blobHash.digest('hex');
    const blobPath = join(blobsDir, hex);
    await rename(tmp, blobPath);
    return {
      digest: `sha256:${hex}`,
      diffId: `sha256:${diffHash.digest('hex')}`,
      size: stored.n,
      uncompressedSize: raw.n,
      blobPath,
    };
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes a small in-memory blob (config, manifest) and returns its digest. */
export async function writeBytesBlob(
  data: Buffer,
  blobsDir: string,
): Promise<{ digest: string; size: number }> {
  await mkdir(blobsDir, { recursive: true });
  const hex = createHash('sha256').update(data).digest('hex');
  const tmp = join(blobsDir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, data);
  await rename(tmp, join(blobsDir, hex));
  return { digest: `sha256:${hex}`, size: data.length };
}

/** sha256 of a file, streamed. */
export async function hashFile(file: string, algo: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const h = createHash(algo);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The uncompressed tar stream of a layer blob, by its media type (or by sniffing the magic). */
export interface LayerHashes {
  /** Fed with the blob's bytes as stored. */
  blob: ReturnType<typeof createHash>;
  /** Fed with the uncompressed tar. */
  diff: ReturnType<typeof createHash>;
}

/**
 * The uncompressed tar stream of a layer blob, by its media type (or by sniffing the magic).
 * With `hashes`, both the stored and the uncompressed bytes are hashed on the way.
 */
export async function* layerTarStream(
  blobPath: string,
  mediaType: string,
  hashes?: LayerHashes,
): AsyncGenerator<Buffer> {
  const head = Buffer.alloc(4);
  const fh = await open(blobPath, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const isGzip = head[0] === 0x1f && head[1] === 0x8b;
  const isZstd = head.readUInt32LE(0) === 0xfd2fb528;
  const counter = { n: 0 };
  const raw = hashes
    ? createReadStream(blobPath).pipe(hashTap(hashes.blob, counter))
    : createReadStream(blobPath);
  const out = (chunk: Buffer) => {
    hashes?.diff.update(chunk);
    return chunk;
  };
  if (isGzip || mediaType.endsWith('gzip')) {
    for await (const c of raw.pipe(createGunzip())) yield out(c as Buffer);
  } else if (isZstd || mediaType.endsWith('zstd')) {
    const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const done = new Promise<number>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' ? toolMissing('zstd', 'zstd') : e),
      );
      child.on('close', (code) => resolve(code ?? 1));
    });
    done.catch(() => {}); // awaited below; a consumer that stops early kills the child instead
    pipeline(raw, child.stdin).catch(() => {}); // a failure shows as zstd's exit code
    try {
      for await (const c of child.stdout) yield out(c as Buffer);
    } finally {
      if (child.exitCode === null) child.kill();
    }
    const code = await done;
    if (code !== 0) throw new ControllerError(`zstd -d failed (exit ${code}) on ${blobPath}`);
  } else {
    for await (const c of raw) yield out(c as Buffer);
  }
}
