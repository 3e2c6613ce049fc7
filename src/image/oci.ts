/** OCI image layouts: write (byte-identical for identical inputs) and read. */

import { copyFile, link, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ControllerError, UsageError } from '../errors.js';
import { writeBytesBlob } from './blob.js';
import { type HistoryEntry, type ImageConfig, type LayerInfo, MEDIA_TYPE, type OciImage } from './types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface WriteOciOptions {
  layoutDir: string;
  tag: string;
  layers: LayerInfo[];
  config: ImageConfig;
  history: HistoryEntry[];
  sourceDateEpoch: number;
  architecture?: string;
  os?: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

interface OciConfigJson {
  created?: string;
  architecture?: string;
  os?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Labels?: Record<string, string> | null;
    User?: string;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object> | null;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** RFC 3339 in seconds, as Docker and Go write it. */
export function rfc3339(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Architecture name in Go/OCI terms for this machine. */
export function hostArchitecture(): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return map[process.arch] ?? process.arch;
}

function sortedRecord(r: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!r) return undefined;
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}

function configJson(opts: WriteOciOptions): OciConfigJson {
  const c = opts.config;
  const inner: NonNullable<OciConfigJson['config']> = {};
  if (c.env) inner.Env = Object.entries(c.env).map(([k, v]) => `${k}=${v}`);
  if (c.entrypoint) inner.Entrypoint = c.entrypoint;
  if (c.cmd) inner.Cmd = c.cmd;
  if (c.labels) inner.Labels = sortedRecord(c.labels)!;
  if (c.user) inner.User = c.user;
  if (c.workdir) inner.WorkingDir = c.workdir;
  if (c.exposedPorts) {
    const ports: Record<string, object> = {};
    for (const p of [...c.exposedPorts].map((x) => (x.includes('/') ? x : `${x}/tcp`)).sort()) ports[p] = {};
    inner.ExposedPorts = ports;
  }
  let history = opts.history;
  const nonEmpty = history.filter((h) => !h.empty_layer).length;
  if (history.length === 0) {
    history = opts.layers.map(() => ({ created: rfc3339(opts.sourceDateEpoch), created_by: 'drover' }));
  } else if (nonEmpty !== opts.layers.length) {
    throw new UsageError(
      `image history has ${nonEmpty} entries with a layer but the image has ${opts.layers.length} layers`,
      'give one history entry per layer (empty_layer: true for entries without one)',
    );
  }
  return {
    created: rfc3339(opts.sourceDateEpoch),
    architecture: opts.architecture ?? hostArchitecture(),
    os: opts.os ?? 'linux',
    config: inner,
    rootfs: { type: 'layers', diff_ids: opts.layers.map((l) => l.diffId) },
    history: history.map((h) => {
      const e: HistoryEntry = { created: h.created };
      if (h.created_by !== undefined) e.created_by = h.created_by;
      if (h.comment !== undefined) e.comment = h.comment;
      if (h.empty_layer) e.empty_layer = true;
      return e;
    }),
  };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** Puts a layer blob into the layout (hard link when possible, else a copy). */
async function placeBlob(layer: LayerInfo, blobsDir: string): Promise<string> {
  const hex = layer.digest.replace(/^sha256:/, '');
  const dest = join(blobsDir, hex);
  if (await exists(dest)) return dest;
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await link(layer.blobPath, tmp);
  } catch {
    await copyFile(layer.blobPath, tmp);
  }
  await rename(tmp, dest);
  return dest;
}

async function readJson<T>(file: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ControllerError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new ControllerError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Writes (or extends) an OCI image layout with one tagged image. */
export async function writeOciImage(opts: WriteOciOptions): Promise<OciImage> {
  if (!opts.tag || /[\s]/.test(opts.tag)) throw new UsageError(`bad image tag '${opts.tag}'`);
  const blobsDir = join(opts.layoutDir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const layers: LayerInfo[] = [];
  for (const l of opts.layers) layers.push({ ...l, blobPath: await placeBlob(l, blobsDir) });
  const cfg = configJson(opts);
  const cfgBlob = await writeBytesBlob(Buffer.from(JSON.stringify(cfg)), blobsDir);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: MEDIA_TYPE.config, digest: cfgBlob.digest, size: cfgBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manBlob = await writeBytesBlob(Buffer.from(JSON.stringify(manifest)), blobsDir);
  const indexFile = join(opts.layoutDir, 'index.json');
  let manifests: Descriptor[] = [];
  if (await exists(indexFile)) {
    const old = await readJson<{ manifests?: Descriptor[] }>(indexFile);
    manifests = (old.manifests ?? []).filter((m) => m.annotations?.[REF_NAME] !== opts.tag);
  }
  manifests.push({
    mediaType: MEDIA_TYPE.manifest,
    digest: manBlob.digest,
    size: manBlob.size,
    annotations: { [REF_NAME]: opts.tag },
    platform: { architecture: cfg.architecture!, os: cfg.os! },
  });
  // Byte order of tags, not a locale's collation: the same index.json on every machine.
  const tagOf = (d: Descriptor) => Buffer.from(d.annotations?.[REF_NAME] ?? '');
  manifests.sort((a, b) => Buffer.compare(tagOf(a), tagOf(b)));
  await writeAtomic(join(opts.layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeAtomic(indexFile, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.index, manifests }));
  return {
    layoutDir: opts.layoutDir,
    tag: opts.tag,
    manifestDigest: manBlob.digest,
    configDigest: cfgBlob.digest,
    layers,
    config: opts.config,
    history: cfg.history ?? [],
    architecture: cfg.architecture!,
    os: cfg.os!,
  };
}

function blobFile(layoutDir: string, digest: string): string {
  const [algo, hex] = digest.split(':');
  if (!algo || !hex || !/^[a-z0-9]+$/.test(algo) || !/^[a-f0-9]+$/.test(hex)) {
    throw new ControllerError(`bad digest '${digest}' in ${layoutDir}`);
  }
  return join(layoutDir, 'blobs', algo, hex);
}

function imageConfigFrom(c: OciConfigJson['config']): ImageConfig {
  const out: ImageConfig = {};
  if (!c) return out;
  if (c.Env?.length) {
    out.env = {};
    for (const kv of c.Env) {
      const i = kv.indexOf('=');
      out.env[i === -1 ? kv : kv.slice(0, i)] = i === -1 ? '' : kv.slice(i + 1);
    }
  }
  if (c.Entrypoint?.length) out.entrypoint = c.Entrypoint;
  if (c.Cmd?.length) out.cmd = c.Cmd;
  if (c.Labels && Object.keys(c.Labels).length) out.labels = c.Labels;
  if (c.User) out.user = c.User;
  if (c.WorkingDir) out.workdir = c.WorkingDir;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.exposedPorts = Object.keys(c.ExposedPorts);
  return out;
}

/** Reads the image tagged `tag` (index.json ref.name annotation) from an OCI layout. */
export async function readOciImage(layoutDir: string, tag: string): Promise<OciImage> {
  if (!(await exists(join(layoutDir, 'oci-layout')))) {
    throw new UsageError(`${layoutDir} is not an OCI image layout (no oci-layout file)`);
  }
  const index = await readJson<{ manifests?: Descriptor[] }>(join(layoutDir, 'index.json'));
  const all = index.manifests ?? [];
  let desc = all.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!desc) {
    const tags = all.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
    throw new UsageError(
      `no image tagged '${tag}' in ${layoutDir}`,
      tags.length ? `tags there: ${tags.join(', ')}` : 'the layout has no tagged images',
    );
  }
  // A tag may point at an index (multi-platform): take this machine's platform.
  for (
    let depth = 0;
    desc.mediaType === MEDIA_TYPE.index || desc.mediaType === MEDIA_TYPE.dockerManifestList;
    depth++
  ) {
    if (depth > 4) throw new ControllerError(`nested indexes too deep in ${layoutDir}`);
    const sub: { manifests?: Descriptor[] } = await readJson<{ manifests?: Descriptor[] }>(
      blobFile(layoutDir, desc.digest),
    );
    const arch = hostArchitecture();
    const pick: Descriptor | undefined =
      sub.manifests?.find((m) => m.platform?.architecture === arch && m.platform?.os === 'linux') ??
      sub.manifests?.[0];
    if (!pick) throw new ControllerError(`image index ${desc.digest} in ${layoutDir} lists no manifests`);
    desc = pick;
  }
  const manifest = await readJson<{ config: Descriptor; layers: Descriptor[] }>(
    blobFile(layoutDir, desc.digest),
  );
  const cfg = await readJson<OciConfigJson>(blobFile(layoutDir, manifest.config.digest));
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new ControllerError(
      `image ${tag} in ${layoutDir}: manifest has ${manifest.layers.length} layers but config lists ${diffIds.length} diff_ids`,
    );
  }
  return {
    layoutDir,
    tag,
    manifestDigest: desc.digest,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l, i) => ({
      digest: l.digest,
      diffId: diffIds[i]!,
      size: l.size,
      mediaType: l.mediaType,
      blobPath: blobFile(layoutDir, l.digest),
    })),
    config: imageConfigFrom(cfg.config),
    history: cfg.history ?? [],
    architecture: cfg.architecture ?? 'amd64',
    os: cfg.os ?? 'linux',
  };
}
