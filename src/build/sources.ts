/**
 * Base root filesystems for builds: a Debian rootfs made by mmdebstrap from the mirror this
 * machine's apt uses, a directory, a tarball, an OCI image layout, or an image built earlier
 * in the same run. Each becomes a read-only directory (the instance's overlay lower dir)
 * plus the OCI layers it contributes; everything is cached under the build dir by its inputs,
 * so a warm build downloads and unpacks nothing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControllerError } from '../errors.js';
import {
  type HistoryEntry,
  type LayerInfo,
  layerFromDir,
  type OciImage,
  readOciImage,
  unpackLayers,
} from '../image/index.js';
import type { SourceSpec } from './template.js';

const run = promisify(execFile);

export interface BaseImage {
  /** The read-only directory the instance boots from. */
  rootfs: string;
  /** The OCI layers of the base; made on first use (a failing build never pays for the tar+gzip). */
  layers: () => Promise<LayerInfo[]>;
  history: HistoryEntry[];
  /** Digest of everything the base depends on: the first link of the step cache chain. */
  key: string;
  /** What the build log says about it (`cached`, `made in 14.2 s`). */
  note: string;
}

export interface SourceContext {
  cacheDir: string;
  blobsDir: string;
  tmpDir: string;
  sourceDateEpoch: number;
  /** Images built earlier in this run, by build name. */
  built: Map<string, OciImage>;
  log: (line: string) => void;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function fileDigest(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** Names, modes, sizes, mtimes and link targets of a tree, hashed (no file contents read). */
export async function treeStamp(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = join(dir, e.name);
      const st = await lstat(p);
      h.update(`${rel}/${e.name}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0${st.uid}:${st.gid}\0`);
      if (e.isSymbolicLink()) h.update(await readlink(p));
      if (e.isDirectory()) await walk(p, `${rel}/${e.name}`);
    }
  };
  await walk(root, '');
  return h.digest('hex');
}

/** The Debian mirror apt uses on this machine (deb822 .sources first, then one-line .list files). */
export function aptMirror(root = '/etc/apt'): string {
  const files: string[] = [];
  const d = join(root, 'sources.list.d');
  if (existsSync(d))
    for (const f of readdirSync(d).sort()) if (/\.(sources|list)$/.test(f)) files.push(join(d, f));
  if (existsSync(join(root, 'sources.list'))) files.unshift(join(root, 'sources.list'));
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (f.endsWith('.sources')) {
      for (const para of text.split(/\n\s*\n/)) {
        const types = /^Types:\s*(.+)$/m.exec(para)?.[1] ?? '';
        const uris = /^URIs:\s*(.+)$/m.exec(para)?.[1] ?? '';
        if (/\bdeb\b/.test(types) && /\/debian\/?$/.test(uris.split(/\s+/)[0] ?? ''))
          return uris.split(/\s+/)[0]!;
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian\/?)\s/.exec(line);
        if (m) return m[1]!;
      }
    }
  }
  return 'http://deb.debian.org/debian';
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** A rootfs dir cached under `cacheDir/rootfs/KEY`, made once by `make(tmpDir)` and renamed into place. */
async function cachedRootfs(
  ctx: SourceContext,
  key: string,
  make: (dir: string) => Promise<void>,
): Promise<{ dir: string; made: boolean }> {
  const base = join(ctx.cacheDir, 'rootfs', key);
  const done = join(base, 'done');
  if (existsSync(done)) return { dir: join(base, 'rootfs'), made: false };
  await rm(base, { recursive: true, force: true });
  const tmp = join(ctx.tmpDir, `rootfs-${key.slice(0, 12)}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await make(join(tmp, 'rootfs'));
  await mkdir(join(ctx.cacheDir, 'rootfs'), { recursive: true });
  await rename(tmp, base);
  await writeFile(done, `${new Date().toISOString()}\n`);
  return { dir: join(base, 'rootfs'), made: true };
}

/** The base layer of a rootfs dir, cached by the dir's cache key and SOURCE_DATE_EPOCH. */
async function cachedDirLayer(ctx: SourceContext, key: string, dir: string): Promise<LayerInfo> {
  const file = join(ctx.cacheDir, 'layers', `${key}-${ctx.sourceDateEpoch}.json`);
  const hit = await readJson<LayerInfo>(file);
  if (hit && existsSync(hit.blobPath)) return hit;
  const layer = await layerFromDir(dir, { blobsDir: ctx.blobsDir, sourceDateEpoch: ctx.sourceDateEpoch });
  await mkdir(join(ctx.cacheDir, 'layers'), { recursive: true });
  await writeJson(file, layer);
  return layer;
}

function created(sde: number): string {
  return new Date(sde * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Modification time of a source's own input file, for the default SOURCE_DATE_EPOCH. A Debian
 * rootfs has none: its cache's age must not change the digests of a warm build.
 */
export async function sourceInputTime(spec: SourceSpec): Promise<number | undefined> {
  switch (spec.type) {
    case 'directory':
      return Math.floor((await stat(spec.path)).mtimeMs / 1000);
    case 'tarball':
      return Math.floor((await stat(spec.path)).mtimeMs / 1000);
    case 'oci':
      return Math.floor((await stat(join(spec.layout, 'index.json'))).mtimeMs / 1000);
    default:
      return undefined;
  }
}

function debianKey(spec: Extract<SourceSpec, { type: 'debian' }>): string {
  const mirror = spec.mirror ?? aptMirror();
  return sha256(
    JSON.stringify([
      'debian-v2',
      spec.suite,
      spec.variant,
      [...spec.include].sort(),
      spec.components,
      mirror,
    ]),
  );
}

export async function prepareSource(spec: SourceSpec, ctx: SourceContext): Promise<BaseImage> {
  const started = Date.now();
  const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  switch (spec.type) {
    case 'debian': {
      const mirror = spec.mirror ?? aptMirror();
      const key = debianKey(spec);
      const args = [
        `--variant=${spec.variant}`,
        '--mode=root',
        '--quiet',
        // Host keys made by openssh-server's postinst are random: they belong to each machine
        // (made at first boot), and without them two mmdebstrap runs give the same tree.
        '--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*_key "$1"/etc/ssh/ssh_host_*_key.pub',
      ];
      if (spec.include.length) args.push(`--include=${spec.include.join(',')}`);
      if (spec.components.length) args.push(`--components=${spec.components.join(',')}`);
      const r = await cachedRootfs(ctx, key, async (dir) => {
        ctx.log(`mmdebstrap ${args.join(' ')} ${spec.suite} ${mirror}`);
        try {
          await run('mmdebstrap', [...args, spec.suite, dir, mirror], {
            // mmdebstrap's own temp files stay inside the build dir too.
            env: { ...process.env, SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch), TMPDIR: ctx.tmpDir },
            maxBuffer: 64 << 20,
          });
        } catch (e) {
          const err = e as { stderr?: string; message: string };
          throw new ControllerError(
            `mmdebstrap failed for suite ${spec.suite}: ${(err.stderr ?? err.message).trim().split('\n').slice(-8).join('\n')}`,
            'check the suite, variant and include packages, and that the mirror is reachable',
          );
        }
      });
      return {
        rootfs: r.dir,
        layers: async () => [await cachedDirLayer(ctx, key, r.dir)],
        history: [
          {
            created: created(ctx.sourceDateEpoch),
            created_by: `mmdebstrap --variant=${spec.variant} ${spec.suite}`,
            comment: 'drover build: base rootfs',
          },
        ],
        // The cached rootfs never changes once made, so its inputs identify it.
        key: sha256(`${key}\n${ctx.sourceDateEpoch}`),
        note: r.made ? `made in ${took()}` : 'cached (nothing downloaded)',
      };
    }
    case 'directory': {
      // Identified by a walk of names, modes, sizes and mtimes (as make does): cheap, and the
      // tar+gzip of the layer is only paid when an image is written.
      const key = sha256(`dir\n${spec.path}\n${await treeStamp(spec.path)}\n${ctx.sourceDateEpoch}`);
      return {
        rootfs: spec.path,
        layers: async () => [await cachedDirLayer(ctx, key, spec.path)],
        history: [{ created: created(ctx.sourceDateEpoch), created_by: `directory ${spec.path}` }],
        key,
        note: 'directory',
      };
    }
    case 'tarball': {
      const key = sha256(`tarball\n${await fileDigest(spec.path)}`);
      const r = await cachedRootfs(ctx, key, async (dir) => {
        await mkdir(dir, { recursive: true });
        await run('tar', ['-xpf', spec.path, '-C', dir, '--numeric-owner', '--xattrs', '--xattrs-include=*']);
      });
      return {
        rootfs: r.dir,
        layers: async () => [await cachedDirLayer(ctx, key, r.dir)],
        history: [{ created: created(ctx.sourceDateEpoch), created_by: `tarball ${spec.path}` }],
        key: sha256(`${key}\n${ctx.sourceDateEpoch}`),
        note: r.made ? `unpacked in ${took()}` : 'cached',
      };
    }
    case 'oci':
    case 'build': {
      const img = spec.type === 'oci' ? await readOciImage(spec.layout, spec.tag) : ctx.built.get(spec.build);
      if (!img)
        throw new ControllerError(
          `build ${spec.type === 'build' ? spec.build : ''} produced no image to build on`,
        );
      const key = sha256(`oci\n${img.layers.map((l) => l.diffId).join('\n')}`);
      const r = await cachedRootfs(ctx, key, async (dir) => {
        await mkdir(dir, { recursive: true });
        await unpackLayers(img.layers, dir);
      });
      return {
        rootfs: r.dir,
        layers: async () => img.layers,
        history: img.history,
        key,
        note: r.made ? `${img.layers.length} layer(s) unpacked in ${took()}` : 'cached',
      };
    }
  }
}
