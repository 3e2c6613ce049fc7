/**
 * Directory trees and overlayfs upper dirs to reproducible layer tars. Only metadata of
 * one directory is held in memory at a time, file bodies stream from disk.
 */

import type { Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ControllerError, UsageError } from '../errors.js';
import { writeTarBlob } from './blob.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar.js';
import { type LayerInfo, MEDIA_TYPE } from './types.js';
import { readTreeXattrs } from './xattr.js';

export interface LayerOptions {
  /** Directory to write the blob into, named by its hex digest (e.g. LAYOUT/blobs/sha256). */
  blobsDir: string;
  /** Seconds; every mtime later than this is clamped down to it. */
  sourceDateEpoch: number;
  /** Globs on absolute in-image paths: `*` within a name, `**` across, `?` one char. A match drops the subtree. */
  exclude?: string[];
  /** 'none' writes an uncompressed tar blob (media type ...layer.v1.tar). Default gzip. */
  compression?: 'gzip' | 'none';
}

export interface TreeTarOptions {
  sourceDateEpoch: number;
  exclude?: string[];
  /** Read the tree as an overlayfs upper dir (whiteouts, opaque dirs). */
  overlay?: boolean;
  /** Skip reading xattrs (no python3 needed); used for trees that cannot carry any. */
  noXattrs?: boolean;
  /** Override owner/mode/mtime of every entry (archives of generated files). */
  fixedOwner?: boolean;
}

/** Compiles the exclude globs into one matcher on "/rel/path". */
export function compileExcludes(globs: string[] | undefined): (absPath: string) => boolean {
  if (!globs || globs.length === 0) return () => false;
  const res = globs.map((g) => {
    if (!g.startsWith('/')) g = `/${g}`;
    g = g.replace(/\/+$/, '');
    let re = '';
    for (let i = 0; i < g.length; i++) {
      const c = g[i]!;
      if (c === '*' && g[i + 1] === '*') {
        re += '.*';
        i++;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}$`);
  });
  return (p) => res.some((r) => r.test(p));
}

/** Files up to this size are read in one call; larger ones stream in 1 MiB chunks. */
const SMALL_FILE = 1 << 20;
const PREFETCH = 8;

const IGNORED_XATTR = /^(trusted\.overlay\.|user\.overlay\.|security\.selinux$)/;

function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

function sortKey(name: string): [number, Buffer] {
  return [name.startsWith('.wh.') ? 0 : 1, Buffer.from(name, 'utf8')];
}

/**
 * The tar bytes of a tree, in a fixed order: depth first, within a directory whiteouts first
 * and then names in byte order. The root itself is not an entry.
 */
export async function* treeTar(root: string, opts: TreeTarOptions): AsyncGenerator<Buffer> {
  const rootSt = await lstat(root).catch(() => undefined);
  if (!rootSt?.isDirectory()) throw new UsageError(`not a directory: ${root}`);
  const sde = Math.floor(opts.sourceDateEpoch);
  if (!Number.isFinite(sde) || sde < 0) throw new UsageError(`bad SOURCE_DATE_EPOCH ${opts.sourceDateEpoch}`);
  const excluded = compileExcludes(opts.exclude);
  const xattrs = opts.noXattrs ? new Map<string, Record<string, Buffer>>() : await readTreeXattrs(root);
  const hardlinks = new Map<string, string>();
  const clamp = (st: Stats) => Math.min(Math.floor(st.mtimeMs / 1000), sde);
  const attrsOf = (rel: string): Record<string, Buffer> | undefined => {
    const all = xattrs.get(rel);
    if (!all) return undefined;
    const kept: Record<string, Buffer> = {};
    let any = false;
    for (const [k, v] of Object.entries(all)) {
      if (opts.overlay && /^(trusted|user)\.overlay\.(redirect|metacopy)$/.test(k)) {
        throw new ControllerError(
          `overlay upper dir uses ${k} on ${rel}: cannot turn it into a layer`,
          'mount the overlay with redirect_dir=off,metacopy=off',
        );
      }
      if (IGNORED_XATTR.test(k)) continue;
      kept[k] = v;
      any = true;
    }
    return any ? kept : undefined;
  };
  const isOpaque = (rel: string) => {
    const a = xattrs.get(rel);
    const v = a?.['trusted.overlay.opaque'] ?? a?.['user.overlay.opaque'];
    return v !== undefined && v.toString('latin1') === 'y';
  };

  async function* dir(rel: string): AsyncGenerator<Buffer> {
    const abs = rel === '' ? root : join(root, rel);
    const raw = await readdir(abs, { encoding: 'buffer' });
    const children: { name: string; tarName: string; st: Stats; whiteout: boolean }[] = [];
    const names: string[] = [];
    for (const b of raw) {
      const name = b.toString('utf8');
      if (!Buffer.from(name, 'utf8').equals(b)) {
        throw new ControllerError(
          `file name is not UTF-8: ${join(abs, b.toString('latin1'))}`,
          'rename the file',
        );
      }
      if (!excluded(`/${rel === '' ? name : `${rel}/${name}`}`)) names.push(name);
    }
    const stats = await Promise.all(names.map((name) => lstat(join(abs, name))));
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const st = stats[i]!;
      const whiteout = opts.overlay === true && st.isCharacterDevice() && st.rdev === 0;
      if (st.isSocket()) continue;
      children.push({ name, tarName: whiteout ? `.wh.${name}` : name, st, whiteout });
    }
    children.sort((a, b) => {
      const [ka, ba] = sortKey(a.tarName);
      const [kb, bb] = sortKey(b.tarName);
      return ka - kb || Buffer.compare(ba, bb);
    });
    // Small files are read a few entries ahead, so the disk works while the pipe drains.
    const ahead = new Map<number, Promise<Buffer>>();
    const prefetch = (from: number) => {
      for (let j = from; j < Math.min(children.length, from + PREFETCH); j++) {
        const c = children[j]!;
        if (!ahead.has(j) && c.st.isFile() && c.st.size > 0 && c.st.size <= SMALL_FILE && c.st.nlink === 1) {
          const p = readFile(join(abs, c.name));
          p.catch(() => {}); // awaited (and reported) when its turn comes
          ahead.set(j, p);
        }
      }
    };
    for (let ci = 0; ci < children.length; ci++) {
      const c = children[ci]!;
      prefetch(ci);
      const childRel = rel === '' ? c.name : `${rel}/${c.name}`;
      const tarRel = rel === '' ? c.tarName : `${rel}/${c.tarName}`;
      const st = c.st;
      const h: TarHeader = {
        name: tarRel,
        type: 'file',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: 0,
        mtime: clamp(st),
      };
      if (opts.fixedOwner) {
        h.uid = 0;
        h.gid = 0;
        h.mtime = Math.min(0, sde);
        h.mode = st.isDirectory() ? 0o755 : 0o644;
      }
      if (c.whiteout) {
        yield encodeHeader({ ...h, mode: 0, uid: 0, gid: 0 });
        continue;
      }
      const x = opts.fixedOwner ? undefined : attrsOf(childRel);
      if (x) h.xattrs = x;
      const absChild = join(abs, c.name);
      if (st.isDirectory()) {
        h.type = 'dir';
        yield encodeHeader(h);
        if (opts.overlay && isOpaque(childRel)) {
          yield encodeHeader({
            name: `${childRel}/.wh..wh..opq`,
            type: 'file',
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: h.mtime,
          });
        }
        yield* dir(childRel);
      } else if (st.isSymbolicLink()) {
        h.type = 'symlink';
        h.linkname = await readlink(absChild, 'utf8');
        yield encodeHeader(h);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? hardlinks.get(key) : undefined;
        if (first !== undefined) {
          yield encodeHeader({ ...h, type: 'link', linkname: first });
          continue;
        }
        if (st.nlink > 1) hardlinks.set(key, tarRel);
        h.size = st.size;
        yield encodeHeader(h);
        let n = 0;
        if (st.size > 0 && st.size <= SMALL_FILE) {
          const data = await (ahead.get(ci) ?? readFile(absChild));
          ahead.delete(ci);
          n = data.length;
          if (n === st.size) yield data;
        } else if (st.size > 0) {
          for await (const chunk of createReadStream(absChild, { highWaterMark: 1 << 20 })) {
            const b = chunk as Buffer;
            n += b.length;
            if (n > st.size) break;
            yield b;
          }
        }
        if (n !== st.size) {
          throw new ControllerError(
            `${absChild} changed size while it was archived (${st.size} -> ${n} bytes)`,
          );
        }
        const pad = padding(st.size);
        if (pad) yield Buffer.alloc(pad);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        h.type = st.isCharacterDevice() ? 'char' : 'block';
        h.devmajor = major(st.rdev);
        h.devminor = minor(st.rdev);
        yield encodeHeader(h);
      } else if (st.isFIFO()) {
        h.type = 'fifo';
        yield encodeHeader(h);
      }
    }
  }

  yield* coalesce(dir(''));
  yield END_OF_ARCHIVE;
}

/** Joins small buffers (headers, small files) into chunks of about 256 KiB for the pipes. */
async function* coalesce(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const CHUNK = 256 << 10;
  let parts: Buffer[] = [];
  let size = 0;
  for await (const b of src) {
    if (b.length >= CHUNK) {
      if (size) yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
      yield b;
      continue;
    }
    parts.push(b);
    size += b.length;
    if (size >= CHUNK) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size) yield Buffer.concat(parts, size);
}

async function layerOf(dir: string, opts: LayerOptions, overlay: boolean): Promise<LayerInfo> {
  const compression = opts.compression ?? 'gzip';
  const tarOpts: TreeTarOptions = { sourceDateEpoch: opts.sourceDateEpoch, overlay };
  if (opts.exclude) tarOpts.exclude = opts.exclude;
  const blob = await writeTarBlob(treeTar(dir, tarOpts), opts.blobsDir, compression);
  return {
    digest: blob.digest,
    diffId: blob.diffId,
    size: blob.size,
    mediaType: compression === 'gzip' ? MEDIA_TYPE.layerGzip : MEDIA_TYPE.layerTar,
    blobPath: blob.blobPath,
  };
}

/** A whole directory tree as one layer. */
export function layerFromDir(dir: string, opts: LayerOptions): Promise<LayerInfo> {
  return layerOf(dir, opts, false);
}

/** An overlayfs upper dir as one layer: whiteouts and opaque dirs in OCI form. */
export function layerFromUpperDir(upperDir: string, opts: LayerOptions): Promise<LayerInfo> {
  return layerOf(upperDir, opts, true);
}
