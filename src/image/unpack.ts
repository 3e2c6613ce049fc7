/**
 * Applies OCI layers onto a directory, as root. Paths are resolved inside the target the
 * way containerd does: a symlink in the tree that points to "/etc" means TARGET/etc, and
 * ".." never leaves the target, so a layer cannot write outside it.
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControllerError } from '../errors.js';
import { layerTarStream } from './blob.js';
import { type ReadEntry, readTar } from './tar.js';
import type { LayerInfo } from './types.js';
import { writeXattrs } from './xattr.js';

const run = promisify(execFile);

function splitPath(name: string, what: string): string[] {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ControllerError(`layer entry escapes the root: ${what}`);
  return parts;
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

class RootResolver {
  /** rel dir path -> absolute real directory, for parents already checked in this layer. */
  private readonly dirs = new Map<string, string>();
  constructor(private readonly root: string) {}

  forget(): void {
    this.dirs.clear();
  }

  /**
   * The absolute path of `parts` with every component but the last resolved inside the
   * root; missing parent directories are created (0755, root).
   */
  async resolve(parts: string[]): Promise<string> {
    if (parts.length === 0) return this.root;
    const parentKey = parts.slice(0, -1).join('/');
    let parent = this.dirs.get(parentKey);
    if (parent === undefined) {
      parent = await this.resolveDir(parts.slice(0, -1), 0);
      this.dirs.set(parentKey, parent);
    }
    return join(parent, parts[parts.length - 1]!);
  }

  /** Resolves a directory path (following symlinks inside root), creating missing parts. */
  private async resolveDir(parts: string[], depth: number): Promise<string> {
    if (depth > 40)
      throw new ControllerError(`too many levels of symlinks in layer path /${parts.join('/')}`);
    const stack: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p === '.' || p === '') continue;
      if (p === '..') {
        stack.pop();
        continue;
      }
      const abs = join(this.root, ...stack, p);
      const st = await lstatOrNull(abs);
      if (st === null) {
        await mkdir(abs, { mode: 0o755 });
        stack.push(p);
      } else if (st.isSymbolicLink()) {
        const target = await readlink(abs, 'utf8');
        const base = target.startsWith('/') ? [] : stack;
        const rest = parts.slice(i + 1);
        const resolved = await this.resolveDir([...base, ...target.split('/'), ...rest], depth + 1);
        return resolved;
      } else if (st.isDirectory()) {
        stack.push(p);
      } else {
        throw new ControllerError(
          `layer path /${parts.join('/')}: /${[...stack, p].join('/')} is not a directory`,
        );
      }
    }
    return join(this.root, ...stack);
  }
}

/** Applies layers in order onto `targetDir` (created if missing). */
export async function unpackLayers(layers: LayerInfo[], targetDir: string): Promise<void> {
  await mkdir(targetDir, { recursive: true });
  for (const layer of layers) {
    await applyLayer(layer, targetDir);
  }
}

async function removeAll(p: string): Promise<void> {
  await rm(p, { recursive: true, force: true });
}

async function applyLayer(layer: LayerInfo, root: string): Promise<void> {
  const resolver = new RootResolver(root);
  const created = new Set<string>();
  const dirTimes: { path: string; mtime: number }[] = [];
  const xattrs: { path: string; name: string; value: Buffer }[] = [];
  // Layers with real digests (not hand-made LayerInfos) are checked while they are read.
  const check = /^sha256:[0-9a-f]{64}$/.test(layer.digest) && /^sha256:[0-9a-f]{64}$/.test(layer.diffId);
  const hashes = check ? { blob: createHash('sha256'), diff: createHash('sha256') } : undefined;
  const stream = layerTarStream(layer.blobPath, layer.mediaType, hashes);
  try {
    for await (const e of readTar(stream)) {
      const parts = splitPath(e.name, e.name);
      if (parts.length === 0) {
        // The root entry ("./"): take its metadata, keep its contents.
        if (e.type === 'dir') {
          await chown(root, e.uid, e.gid);
          await chmod(root, e.mode & 0o7777);
          dirTimes.push({ path: root, mtime: e.mtime });
        }
        continue;
      }
      const base = parts[parts.length - 1]!;
      const rel = parts.join('/');
      if (base === '.wh..wh..opq') {
        const dir = await resolver.resolve(parts.slice(0, -1).concat('.'));
        const dirParts = parts.slice(0, -1);
        const st = await lstatOrNull(dir);
        if (st?.isDirectory()) {
          for (const child of await readdir(dir)) {
            if (!created.has([...dirParts, child].join('/'))) await removeAll(join(dir, child));
          }
          resolver.forget();
        }
        continue;
      }
      if (base.startsWith('.wh.')) {
        const victimParts = [...parts.slice(0, -1), base.slice(4)];
        if (!created.has(victimParts.join('/'))) {
          await removeAll(await resolver.resolve(victimParts));
          resolver.forget();
        }
        continue;
      }
      const path = await resolver.resolve(parts);
      created.add(rel);
      await applyEntry(e, path, resolver, dirTimes);
      if (e.xattrs) {
        for (const [name, value] of Object.entries(e.xattrs)) xattrs.push({ path, name, value });
      }
    }
  } catch (e) {
    await stream.return(undefined); // close the blob and the decompressor
    throw e;
  }
  if (hashes) {
    for await (const _ of stream); // the rest after the end-of-archive blocks counts too
    const blob = `sha256:${hashes.blob.digest('hex')}`;
    const diff = `sha256:${hashes.diff.digest('hex')}`;
    if (blob !== layer.digest || diff !== layer.diffId) {
      throw new ControllerError(
        `layer ${layer.blobPath} does not match its digests (blob ${blob}, want ${layer.digest}; tar ${diff}, want ${layer.diffId})`,
        'the image is corrupt or was changed after it was written: rebuild or re-copy it',
      );
    }
  }
  // xattrs after chown (chown clears security.capability), directory times last.
  await writeXattrs(xattrs);
  for (const d of dirTimes.reverse()) await utimes(d.path, d.mtime, d.mtime);
}

async function applyEntry(
  e: ReadEntry,
  path: string,
  resolver: RootResolver,
  dirTimes: { path: string; mtime: number }[],
): Promise<void> {
  const existing = await lstatOrNull(path);
  if (e.type === 'dir') {
    if (existing && !existing.isDirectory()) {
      await removeAll(path);
      resolver.forget();
    }
    if (!existing?.isDirectory()) await mkdir(path);
    await chown(path, e.uid, e.gid);
    await chmod(path, e.mode & 0o7777);
    dirTimes.push({ path, mtime: e.mtime });
    return;
  }
  if (existing) {
    await removeAll(path);
    if (existing.isDirectory() || existing.isSymbolicLink()) resolver.forget();
  }
  switch (e.type) {
    case 'file': {
      const fh = await open(path, 'wx', 0o600);
      try {
        for await (const chunk of e.body()) await fh.write(chunk);
      } finally {
        await fh.close();
      }
      break;
    }
    case 'symlink':
      await symlink(e.linkname ?? '', path);
      await lchown(path, e.uid, e.gid);
      await lutimes(path, e.mtime, e.mtime);
      return;
    case 'link': {
      const targetParts = splitPath(e.linkname ?? '', `${e.name} -> ${e.linkname}`);
      await link(await resolver.resolve(targetParts), path);
      return;
    }
    case 'char':
    case 'block':
    case 'fifo': {
      const kind = e.type === 'char' ? 'c' : e.type === 'block' ? 'b' : 'p';
      const args =
        kind === 'p' ? [path, 'p'] : [path, kind, String(e.devmajor ?? 0), String(e.devminor ?? 0)];
      await run('mknod', args).catch((err: Error) => {
        throw new ControllerError(
          `mknod ${args.join(' ')} failed: ${err.message}`,
          'unpacking layers needs root',
        );
      });
      break;
    }
  }
  await chown(path, e.uid, e.gid);
  await chmod(path, e.mode & 0o7777);
  await utimes(path, e.mtime, e.mtime);
}
