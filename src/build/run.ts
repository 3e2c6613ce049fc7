/**
 * Runs the builds of a validated template: for each build and source, prepare the base
 * rootfs, boot an instance, run the provisioners, snapshot the instance's writable layer
 * into one OCI layer on top of the base layers, verify the image, run the post-processors.
 * A step cache keyed by input digests skips provisioning whose inputs did not change.
 * Everything is written under the build dir; a crashed earlier build's leftovers (mounts,
 * processes, temp dirs) are removed first.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, type Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { ControllerError, DroverError, ExitCode } from '../errors.js';
import {
  compressFile,
  type LayerInfo,
  layerFromUpperDir,
  type OciImage,
  rfc3339,
  unpackLayers,
  writeChecksums,
  writeDockerArchive,
  writeOciArchive,
  writeOciImage,
  writeRootfsTar,
} from '../image/index.js';
import { cleanupStale } from '../machine/cleanup.js';
import { envAssignments } from '../shell/quote.js';
import { Templar } from '../template/templar.js';
import { streamScript } from '../transport/nsexec.js';
import { acquirePidLock, LockHeldError } from '../util/pid-lock.js';
import { type Instance, startInstance, stopInstance } from './instance.js';
import type { BuildEvent, BuildReporter, StepStatus } from './report.js';
import {
  type BaseImage,
  fileDigest,
  prepareSource,
  type SourceContext,
  sha256,
  sourceInputTime,
} from './sources.js';
import {
  type BuildDef,
  type BuildTemplate,
  globMatch,
  type PlaybookStep,
  type PostProcessor,
  type Provisioner,
  type ShellStep,
  type SourceDef,
  selected,
} from './template.js';

const run = promisify(execFile);

/** What the CLI wires in to run drover's own playbook engine against an instance. */
export interface PlaybookRequest {
  step: PlaybookStep;
  /** Inventory name of the instance (the source's name, as Packer's ansible provisioner does). */
  host: string;
  instance: Instance;
  check: boolean;
  workDir: string;
  write: (text: string) => void;
  signal: AbortSignal;
}
export interface PlaybookOutcome {
  exitCode: number;
  changed: number;
}
export type PlaybookRunner = (req: PlaybookRequest) => Promise<PlaybookOutcome>;

export interface RunBuildsOptions {
  template: BuildTemplate;
  only?: string[];
  except?: string[];
  onError?: 'cleanup' | 'abort';
  force?: boolean;
  parallel?: number;
  debug?: boolean;
  reporter: BuildReporter;
  playbook: PlaybookRunner;
  signal?: AbortSignal;
  /** Waits for the user (breakpoints, -debug). */
  ask?: (prompt: string) => Promise<void>;
}

export interface BuildOutcome {
  name: string;
  status: 'ok' | 'failed' | 'cancelled' | 'skipped';
  image?: OciImage;
  artifacts: { kind: string; path: string }[];
  error?: string;
}

export interface RunBuildsResult {
  exitCode: number;
  builds: BuildOutcome[];
}

/** A step failed; its output has been shown already. */
export class StepError extends DroverError {
  readonly exitCode = ExitCode.error;
}

interface Unit {
  name: string;
  build: BuildDef;
  source: SourceDef;
}

/** GNU tar options that carry an overlay upper dir whole: owners, modes, device nodes, xattrs. */
const UPPER_TAR = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '-p'];

const SKIP_DIRS = new Set(['.git', 'node_modules', '.drover-build']);

/** Digest and newest mtime of a file or directory tree (paths, modes, contents, link targets). */
export async function treeDigest(path: string): Promise<{ digest: string; mtime: number }> {
  const parts: string[] = [];
  let mtime = 0;
  const walk = async (p: string, rel: string, st: Stats): Promise<void> => {
    mtime = Math.max(mtime, Math.floor(st.mtimeMs / 1000));
    if (st.isSymbolicLink()) parts.push(`l ${rel} ${await readlink(p)}`);
    else if (st.isFile()) parts.push(`f ${rel} ${(st.mode & 0o7777).toString(8)} ${await fileDigest(p)}`);
    else if (st.isDirectory()) {
      parts.push(`d ${rel} ${(st.mode & 0o7777).toString(8)}`);
      for (const e of (await readdir(p)).sort()) {
        if (SKIP_DIRS.has(e)) continue;
        await walk(join(p, e), `${rel}/${e}`, await lstat(join(p, e)));
      }
    }
  };
  await walk(path, '.', await lstat(path));
  return { digest: sha256(parts.join('\n')), mtime };
}

const PLAYBOOK_DIRS = [
  'roles',
  'group_vars',
  'host_vars',
  'templates',
  'files',
  'vars',
  'tasks',
  'handlers',
  'library',
];

/** The files a step reads on the controller (their contents are part of its cache key). */
function stepInputs(step: Provisioner): string[] {
  switch (step.type) {
    case 'shell':
      return step.scripts;
    case 'file':
      return step.direction === 'upload' ? step.sources : [];
    case 'playbook': {
      // What a playbook can read beside it: YAML files (imports), roles, vars, templates and files.
      const dir = dirname(step.playbookFile);
      const beside = existsSync(dir) ? readdirSync(dir).sort() : [];
      return [
        ...beside.filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f)),
        ...beside.filter((f) => PLAYBOOK_DIRS.includes(f)).map((f) => join(dir, f)),
        ...step.vaultPasswordFiles,
      ];
    }
    default:
      return [];
  }
}

function stepKeyData(step: Provisioner): unknown {
  const { pos: _pos, label: _label, pauseBeforeMs: _p, maxRetries: _m, timeoutMs: _t, ...rest } = step;
  return rest;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** Takes the build dir's lock: two builds in one dir would clean up each other's instances. */
async function lockBuildDir(buildDir: string): Promise<() => Promise<void>> {
  await mkdir(buildDir, { recursive: true });
  try {
    const lock = await acquirePidLock(join(buildDir, 'lock'), { timeoutMs: 0 });
    return () => lock.release();
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    throw new ControllerError(
      `another build (pid ${err.holder}) is running in ${buildDir}`,
      'wait for it, or use another build dir (-build-dir)',
    );
  }
}

export async function runBuilds(o: RunBuildsOptions): Promise<RunBuildsResult> {
  const t = o.template;
  const dirs = {
    build: t.buildDir,
    cache: join(t.buildDir, 'cache'),
    blobs: join(t.buildDir, 'cache', 'blobs'),
    instances: join(t.buildDir, 'instances'),
    tmp: join(t.buildDir, 'tmp'),
    output: join(t.buildDir, 'output'),
  };
  const unlock = await lockBuildDir(dirs.build);
  const signal = o.signal ?? new AbortController().signal;
  try {
    // A build killed with -9 left instances (mounts, processes) and temp dirs: remove them first.
    await mkdir(dirs.instances, { recursive: true });
    const stale = await cleanupStale(dirs.instances);
    const staleDirs = await readdir(dirs.instances);
    if (stale.hosts.length || stale.unmounted.length || staleDirs.length) {
      o.reporter.emit({
        type: 'build.say',
        build: 'drover',
        message: `removed leftovers of an earlier build: ${stale.hosts.length} instance(s), ${stale.unmounted.length} mount(s)`,
      });
    }
    await rm(dirs.instances, { recursive: true, force: true });
    await rm(dirs.tmp, { recursive: true, force: true });
    for (const d of [dirs.cache, dirs.blobs, dirs.instances, dirs.tmp, dirs.output])
      await mkdir(d, { recursive: true });

    const units: Unit[] = [];
    for (const b of t.builds) {
      for (const s of b.sources) {
        const name = `${b.name}.${s.name}`;
        const names = [name, b.name, s.name, `${s.spec.type}.${s.name}`];
        const match = (globs: string[]) => globs.some((g) => names.some((n) => globMatch(g, n)));
        if (o.only?.length && !match(o.only)) continue;
        if (o.except?.length && match(o.except)) continue;
        units.push({ name, build: b, source: s });
      }
    }
    const sde = t.sourceDateEpoch ?? (await defaultSourceDateEpoch(t));
    const built = new Map<string, OciImage>();
    const outcomes = new Map<string, BuildOutcome>();
    const manifestRuns: unknown[] = [];
    const runUuid = randomUUID();
    const limit = pLimit(o.parallel && o.parallel > 0 ? o.parallel : Math.max(1, units.length));
    const done = new Map<string, Promise<void>>();
    const depsOf = (u: Unit): string[] => (u.source.spec.type === 'build' ? [u.source.spec.build] : []);
    const startUnit = (u: Unit): Promise<void> => {
      let p = done.get(u.name);
      if (p) return p;
      p = (async () => {
        for (const dep of depsOf(u)) {
          await Promise.all(units.filter((x) => x.build.name === dep).map(startUnit));
          if (!built.has(dep)) {
            outcomes.set(u.name, {
              name: u.name,
              status: 'skipped',
              artifacts: [],
              error: `build ${dep} did not produce an image`,
            });
            o.reporter.emit({
              type: 'build.say',
              build: u.name,
              message: `skipped: build ${dep} did not produce an image`,
            });
            return;
          }
        }
        const r: BuildOutcome = await limit(() =>
          new UnitRun(u, o, dirs, sde, built, signal).run().catch((e: unknown) => ({
            name: u.name,
            status: 'failed' as const,
            artifacts: [] as BuildOutcome['artifacts'],
            error: (e as Error).message,
          })),
        );
        outcomes.set(u.name, r);
        if (r.image && !built.has(u.build.name)) built.set(u.build.name, r.image);
        if (r.status === 'ok')
          manifestRuns.push({
            name: u.build.name,
            source: u.source.name,
            builder_type: u.source.spec.type,
            build_time: Math.floor(Date.now() / 1000),
            files: await Promise.all(
              r.artifacts.map(async (a) => ({
                name: a.path,
                size: (await stat(a.path)).isFile() ? (await stat(a.path)).size : 0,
              })),
            ),
            artifact_id: r.image?.manifestDigest,
            image: r.image
              ? { layout: r.image.layoutDir, tag: r.image.tag, config_digest: r.image.configDigest }
              : undefined,
            packer_run_uuid: runUuid,
            custom_data: null,
          });
      })();
      done.set(u.name, p);
      return p;
    };
    await Promise.all(units.map(startUnit));
    // packer-manifest.json's shape, written once for the run (post-processor `manifest`).
    for (const u of units) {
      for (const pp of u.build.postProcessors) {
        if (pp.type !== 'manifest' || outcomes.get(u.name)?.status !== 'ok') continue;
        const file = join(dirs.output, pp.output ?? 'manifest.json');
        let old: { builds?: unknown[] } = {};
        try {
          old = JSON.parse(await readFile(file, 'utf8')) as { builds?: unknown[] };
        } catch {
          // first run
        }
        const mine = manifestRuns.filter((m) => (m as { name: string }).name === u.build.name);
        await writeJsonAtomic(file, { builds: [...(old.builds ?? []), ...mine], last_run_uuid: runUuid });
        o.reporter.emit({ type: 'build.artifact', build: u.name, kind: 'manifest', path: file });
        break;
      }
    }
    const list = units.map((u) => outcomes.get(u.name)!).filter(Boolean);
    const failed = list.filter((b) => b.status !== 'ok');
    if (list.length === 0)
      o.reporter.emit({
        type: 'build.say',
        build: 'drover',
        message: 'no builds selected (check -only/-except)',
      });
    const summary = list.map(
      (b) =>
        `--> ${b.name}: ${b.status === 'ok' ? (b.image?.manifestDigest ?? 'ok') : `${b.status}${b.error ? `: ${b.error}` : ''}`}`,
    );
    o.reporter.emit({
      type: 'build.say',
      build: 'drover',
      message: `${failed.length ? `${failed.length} of ${list.length} build(s) failed` : `${list.length} build(s) finished`}\n${summary.join('\n')}`,
    });
    const exitCode = signal.aborted ? ExitCode.interrupted : failed.length > 0 ? ExitCode.error : ExitCode.ok;
    return { exitCode, builds: list };
  } finally {
    if (o.onError !== 'abort') await rm(dirs.tmp, { recursive: true, force: true }).catch(() => undefined);
    await unlock();
  }
}

/** Default SOURCE_DATE_EPOCH: the newest modification time among the build's inputs. */
async function defaultSourceDateEpoch(t: BuildTemplate): Promise<number> {
  let newest = Math.floor((await stat(t.file)).mtimeMs / 1000);
  for (const b of t.builds) {
    for (const s of b.sources) newest = Math.max(newest, (await sourceInputTime(s.spec)) ?? 0);
    for (const step of [...b.provisioners, ...(b.verify?.playbook ? [b.verify.playbook] : [])]) {
      for (const f of stepInputs(step))
        if (existsSync(f)) newest = Math.max(newest, (await treeDigest(f)).mtime);
    }
  }
  return newest;
}

class UnitRun {
  private instance: Instance | undefined;
  private readonly started = Date.now();
  private readonly artifacts: { kind: string; path: string }[] = [];
  private readonly templar = new Templar({ warn: () => undefined });

  constructor(
    private readonly u: Unit,
    private readonly o: RunBuildsOptions,
    private readonly dirs: {
      build: string;
      cache: string;
      blobs: string;
      instances: string;
      tmp: string;
      output: string;
    },
    private readonly sde: number,
    private readonly built: Map<string, OciImage>,
    private readonly signal: AbortSignal,
  ) {}

  private emit(e: BuildEvent): void {
    this.o.reporter.emit(e);
  }
  private say(message: string): void {
    this.emit({ type: 'build.say', build: this.u.name, message });
  }
  private step(
    step: string,
    index: number,
    total: number,
    status: StepStatus,
    extra: { durationMs?: number; message?: string } = {},
  ): void {
    this.emit({ type: 'build.step', build: this.u.name, step, index, total, status, ...extra });
  }
  private output(step: string, text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    if (text) this.emit({ type: 'build.output', build: this.u.name, step, stream, text });
  }

  async run(): Promise<BuildOutcome> {
    const { u } = this;
    this.emit({ type: 'build.start', build: u.name });
    try {
      const image = await this.produce();
      this.emit({ type: 'build.end', build: u.name, status: 'ok', durationMs: Date.now() - this.started });
      return { name: u.name, status: 'ok', image, artifacts: this.artifacts };
    } catch (e) {
      const cancelled = this.signal.aborted;
      const msg = (e as Error).message;
      if (this.instance) {
        if (this.o.onError === 'abort' && !cancelled) {
          this.say(
            `-on-error=abort: the instance is kept running.\n  get a shell in it:  ${this.instance.shellCommand}\n  its writable layer: ${this.instance.host.upperDir}\n  the next build in this dir removes it (or: kill ${this.instance.host.launcherPid})`,
          );
        } else {
          this.say('cleaning up the instance');
          await stopInstance(this.instance, true).catch(() => undefined);
        }
        this.instance = undefined;
      }
      this.emit({
        type: 'build.end',
        build: u.name,
        status: cancelled ? 'cancelled' : 'failed',
        durationMs: Date.now() - this.started,
        error: msg,
      });
      return {
        name: u.name,
        status: cancelled ? 'cancelled' : 'failed',
        artifacts: this.artifacts,
        error: msg,
      };
    }
  }

  private checkAborted(): void {
    if (this.signal.aborted) throw new StepError('interrupted');
  }

  private async produce(): Promise<OciImage> {
    const { u, o } = this;
    const ctx: SourceContext = {
      cacheDir: this.dirs.cache,
      blobsDir: this.dirs.blobs,
      tmpDir: this.dirs.tmp,
      sourceDateEpoch: this.sde,
      built: this.built,
      log: (l) => this.say(l),
    };
    this.say(`preparing base rootfs (${describeSource(u.source)})`);
    const base = await prepareSource(u.source.spec, ctx);
    this.say(`base rootfs: ${base.note}`);
    this.checkAborted();

    const steps = u.build.provisioners.filter((p) => selected(p, u.source));
    // keys[i]: the state after step i, chained over everything before it.
    let key = sha256(JSON.stringify(['drover-build-v1', base.key, this.sde, u.build.exclude]));
    const keys: string[] = [];
    for (const s of steps) {
      if (s.type !== 'breakpoint') {
        const inputs = await Promise.all(
          stepInputs(s).map(async (f) => (existsSync(f) ? (await treeDigest(f)).digest : 'missing')),
        );
        key = sha256(JSON.stringify([key, stepKeyData(s), inputs]));
      }
      keys.push(key);
    }
    const cacheFile = join(this.dirs.cache, 'steps', `${key}.json`);
    let layer: LayerInfo | undefined;
    if (!o.force && steps.length > 0) {
      try {
        const hit = JSON.parse(await readFile(cacheFile, 'utf8')) as LayerInfo;
        if (await exists(hit.blobPath)) layer = hit;
      } catch {
        // miss
      }
    }
    if (layer) {
      steps.forEach((s, i) => {
        this.step(s.label, i + 1, steps.length, 'cached', { message: `(key ${key.slice(0, 12)})` });
      });
    } else if (steps.length > 0) {
      // The longest prefix of unchanged steps whose result was kept: start after it.
      let from = 0;
      if (!o.force) {
        for (let i = steps.length - 2; i >= 0; i--) {
          if (await exists(this.snapshotFile(keys[i]!))) {
            from = i + 1;
            break;
          }
        }
      }
      layer = await this.provision(base, steps, keys, from);
      await writeJsonAtomic(cacheFile, layer);
    }

    const baseLayers = await base.layers();
    const layers = layer ? [...baseLayers, layer] : baseLayers;
    const history = [
      ...base.history,
      ...(layer
        ? [
            {
              created: rfc3339(this.sde),
              created_by: `drover build ${basename(o.template.file)}`,
              comment: steps.map((s) => s.label).join('; '),
            },
          ]
        : []),
    ];
    const layoutDir = join(this.dirs.output, u.name);
    await rm(layoutDir, { recursive: true, force: true });
    const image = await writeOciImage({
      layoutDir,
      tag: u.build.image.tag,
      layers,
      config: imageConfig(u.build),
      history,
      sourceDateEpoch: this.sde,
    });
    this.emit({
      type: 'build.artifact',
      build: u.name,
      kind: 'oci-layout',
      path: `${layoutDir}:${image.tag}`,
      digest: image.manifestDigest,
    });
    this.artifacts.push({ kind: 'oci-layout', path: layoutDir });
    if (u.build.verify) await this.verify(image);
    await this.postProcess(image);
    return image;
  }

  private async keepUpper(inst: Instance, key: string): Promise<void> {
    const file = this.snapshotFile(key);
    const tmp = `${file}.${process.pid}.tmp`;
    await mkdir(dirname(file), { recursive: true });
    await run('tar', [...UPPER_TAR, '-cf', tmp, '-C', inst.host.upperDir, '.']);
    await rename(tmp, file);
  }

  private async boot(rootfs: string, tag: string, dir?: string): Promise<Instance> {
    const { u } = this;
    const hostDir = dir ?? join(this.dirs.instances, `${u.name}-${tag}-${randomBytes(3).toString('hex')}`);
    const shown = rootfs.startsWith(`${this.dirs.build}/`) ? relative(this.dirs.build, rootfs) : rootfs;
    this.say(`booting instance from ${shown} (${u.source.communicator})`);
    const i = await startInstance({
      name: u.source.name,
      hostDir,
      rootfs,
      hostname: u.source.hostname,
      communicator: u.source.communicator,
      ...(u.source.sshPort !== undefined ? { sshPort: u.source.sshPort } : {}),
    });
    this.instance = i;
    return i;
  }

  private snapshotFile(key: string): string {
    return join(this.dirs.cache, 'steps', `${key}.upper.tar`);
  }

  /**
   * Runs steps[from..] in a fresh instance whose writable layer starts as the kept result of
   * steps[..from-1]; keeps the writable layer after each step (a tar of the overlay upper
   * dir: whiteouts are device nodes, opaque dirs an xattr) so a later build can start there.
   */
  private async provision(
    base: BaseImage,
    steps: Provisioner[],
    keys: string[],
    from: number,
  ): Promise<LayerInfo> {
    const hostDir = join(this.dirs.instances, `${this.u.name}-build-${randomBytes(3).toString('hex')}`);
    for (const [i, s] of steps.slice(0, from).entries())
      this.step(s.label, i + 1, steps.length, 'cached', { message: `(key ${keys[i]!.slice(0, 12)})` });
    if (from > 0) {
      await mkdir(join(hostDir, 'upper'), { recursive: true });
      await run('tar', [
        ...UPPER_TAR,
        '-xf',
        this.snapshotFile(keys[from - 1]!),
        '-C',
        join(hostDir, 'upper'),
      ]);
    }
    const inst = await this.boot(base.rootfs, 'build', hostDir);
    for (const [i, s] of steps.entries()) {
      if (i < from) continue;
      this.checkAborted();
      if (this.o.debug && this.o.ask)
        await this.o.ask(
          `==> ${this.u.name}: -debug: pausing before step ${i + 1}/${steps.length} (${s.label}); press enter to continue`,
        );
      if (s.pauseBeforeMs > 0) {
        this.say(`pausing ${s.pauseBeforeMs / 1000} s before ${s.label}`);
        await sleep(s.pauseBeforeMs, undefined, { signal: this.signal }).catch(() => undefined);
      }
      const t0 = Date.now();
      this.step(s.label, i + 1, steps.length, 'start', { message: startMessage(s) });
      let attempt = 0;
      for (;;) {
        try {
          await this.runStep(s, inst);
          this.step(s.label, i + 1, steps.length, 'ok', { durationMs: Date.now() - t0 });
          if (i < steps.length - 1 && s.type !== 'breakpoint') await this.keepUpper(inst, keys[i]!);
          break;
        } catch (e) {
          this.checkAborted();
          if (attempt < s.maxRetries) {
            attempt++;
            this.step(s.label, i + 1, steps.length, 'retry', {
              message: `attempt ${attempt + 1} of ${s.maxRetries + 1}: ${(e as Error).message}`,
            });
            continue;
          }
          this.step(s.label, i + 1, steps.length, 'failed', {
            durationMs: Date.now() - t0,
            message: (e as Error).message,
          });
          throw new StepError(
            `${s.label} (${s.pos.file}:${s.pos.line}:${s.pos.col}) failed: ${(e as Error).message}`,
          );
        }
      }
    }
    this.say('stopping the instance and snapshotting its writable layer');
    await inst.conn.close().catch(() => undefined);
    await inst.host.stop({ graceMs: 200 });
    const layer = await layerFromUpperDir(inst.host.upperDir, {
      blobsDir: this.dirs.blobs,
      sourceDateEpoch: this.sde,
      exclude: this.u.build.exclude,
    });
    await rm(inst.host.hostDir, { recursive: true, force: true });
    this.instance = undefined;
    this.say(`layer ${layer.digest} (${(layer.size / 1024).toFixed(0)} KiB)`);
    return layer;
  }

  private async runStep(s: Provisioner, inst: Instance): Promise<void> {
    switch (s.type) {
      case 'shell':
        return this.shell(s, inst);
      case 'file':
        return this.file(s, inst);
      case 'playbook': {
        const r = await this.playbook(s, inst, s.check);
        if (r.exitCode !== 0) throw new StepError(`the playbook failed (exit code ${r.exitCode})`);
        return;
      }
      case 'breakpoint':
        if (s.disable) return;
        this.say(
          `breakpoint${s.note ? `: ${s.note}` : ''}\n  get a shell in the instance: ${inst.shellCommand}`,
        );
        if (this.o.ask) await this.o.ask(`==> ${this.u.name}: press enter to continue`);
        return;
    }
  }

  private async playbook(s: PlaybookStep, inst: Instance, check: boolean): Promise<PlaybookOutcome> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    this.signal.addEventListener('abort', onAbort);
    const timer = s.timeoutMs ? setTimeout(() => ctl.abort(), s.timeoutMs) : undefined;
    try {
      return await this.o.playbook({
        step: s,
        host: this.u.source.name,
        instance: inst,
        check,
        workDir: inst.host.hostDir,
        write: (text) => this.output(s.label, text),
        signal: ctl.signal,
      });
    } finally {
      if (timer) clearTimeout(timer);
      this.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs a command in the instance, output streamed under the step's name; throws on a non-zero exit. */
  private async exec(
    inst: Instance,
    label: string,
    cmd: string,
    opts: { env?: Record<string, string>; timeoutMs?: number; expectDisconnect?: boolean } = {},
  ): Promise<void> {
    if (inst.conn === inst.nsexec) {
      const r = await streamScript(inst.nsexec, cmd, {
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
        signal: this.signal,
        onOutput: (text, stream) => this.output(label, text, stream),
      });
      if (r.timedOut) throw new StepError(`timed out after ${(opts.timeoutMs ?? 0) / 1000} s`);
      if (r.signal && opts.expectDisconnect) return;
      if (r.rc !== 0) throw new StepError(`exit status ${r.rc}${r.signal ? ` (signal ${r.signal})` : ''}`);
      return;
    }
    const r = await inst.conn
      .run(cmd, {
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      })
      .catch((e: Error) => {
        if (opts.expectDisconnect) return { rc: 0, stdout: '', stderr: '' };
        throw new StepError(`connection lost: ${e.message}`);
      });
    this.output(label, r.stdout);
    this.output(label, r.stderr, 'stderr');
    if (r.rc !== 0) throw new StepError(`exit status ${r.rc}`);
  }

  private async shell(s: ShellStep, inst: Instance): Promise<void> {
    const bodies: { name: string; text: Buffer }[] = s.inline
      ? [{ name: 'inline', text: Buffer.from(`#!${s.inlineShebang}\n${s.inline.join('\n')}\n`) }]
      : await Promise.all(s.scripts.map(async (f) => ({ name: basename(f), text: await readFile(f) })));
    const env = {
      ...s.environmentVars,
      DROVER_BUILD_NAME: this.u.build.name,
      DROVER_SOURCE_NAME: this.u.source.name,
      PACKER_BUILD_NAME: this.u.build.name,
    };
    for (const b of bodies) {
      const path = `${s.remoteFolder}/script_${randomBytes(4).toString('hex')}.sh`;
      if (s.scripts.length > 1 || !s.inline) this.say(`running script ${b.name}`);
      await inst.conn.put(b.text, path, { mode: 0o755 });
      const cmd = String(this.templar.template(s.executeCommand, { path, vars: envAssignments(env) }));
      try {
        await this.exec(inst, s.label, cmd, {
          ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}),
          expectDisconnect: s.expectDisconnect,
        });
      } finally {
        await inst.conn.run(`rm -f ${path}`).catch(() => undefined);
      }
    }
  }

  private async file(s: Extract<Provisioner, { type: 'file' }>, inst: Instance): Promise<void> {
    for (const src of s.sources) {
      if (s.direction === 'upload') {
        const st = await stat(src);
        const into = s.destination.endsWith('/');
        if (st.isDirectory()) {
          // Packer: "dir/" uploads the contents, "dir" the directory itself.
          const target = src.endsWith('/') ? s.destination : join(s.destination, basename(src));
          const tar = await run('tar', ['-C', src, '-cf', '-', '.'], {
            encoding: 'buffer',
            maxBuffer: 1 << 30,
          });
          const r = await inst.conn.run(
            `mkdir -p '${target.replaceAll("'", `'\\''`)}' && tar -xf - --no-same-owner -C '${target.replaceAll("'", `'\\''`)}'`,
            { stdin: tar.stdout },
          );
          if (r.rc !== 0) throw new StepError(`uploading ${src} to ${target}: ${r.stderr.trim()}`);
          this.output(s.label, `uploaded directory ${src} -> ${target}\n`);
        } else {
          const target = into ? `${s.destination}${basename(src)}` : s.destination;
          const r = await inst.conn.run(`mkdir -p '${dirname(target).replaceAll("'", `'\\''`)}'`);
          if (r.rc !== 0) throw new StepError(r.stderr.trim());
          await inst.conn.put(src, target, { mode: st.mode & 0o777 });
          this.output(s.label, `uploaded ${src} -> ${target}\n`);
        }
      } else {
        const into =
          s.destination.endsWith('/') ||
          (await exists(s.destination).then((e) => e && stat(s.destination).then((x) => x.isDirectory())));
        const local = into ? join(s.destination, basename(src)) : s.destination;
        await mkdir(dirname(local), { recursive: true });
        await inst.conn.get(src, local);
        this.output(s.label, `downloaded ${src} -> ${local}\n`);
      }
    }
  }

  private async verify(image: OciImage): Promise<void> {
    const v = this.u.build.verify!;
    const verifyKey = sha256(
      JSON.stringify([
        image.manifestDigest,
        v.shell,
        v.playbook
          ? [stepKeyData(v.playbook), (await treeDigest(dirname(v.playbook.playbookFile))).digest]
          : null,
      ]),
    );
    const marker = join(this.dirs.cache, 'verified', verifyKey);
    const total = v.shell.length + (v.playbook ? 1 : 0);
    if (!this.o.force && (await exists(marker))) {
      this.step('verify', 1, 1, 'cached', {
        message: `(image ${image.manifestDigest.slice(7, 19)} verified before)`,
      });
      return;
    }
    const t0 = Date.now();
    this.step('verify', 1, 1, 'start', {
      message: `verifying the image: booting a fresh instance from it (${total} check(s))`,
    });
    const rootfs = join(this.dirs.tmp, `verify-${this.u.name}-${randomBytes(3).toString('hex')}`);
    await unpackLayers(image.layers, rootfs);
    const inst = await this.boot(rootfs, 'verify');
    try {
      for (const cmd of v.shell) {
        this.checkAborted();
        this.say(`verify: ${cmd}`);
        await this.exec(inst, 'verify', cmd).catch((e: Error) => {
          throw new StepError(`verify shell test \`${cmd}\` failed: ${e.message}`);
        });
      }
      if (v.playbook) {
        this.say(`verify: ${v.playbook.label} in --check mode must report changed=0`);
        const r = await this.playbook(v.playbook, inst, true);
        if (r.exitCode !== 0) throw new StepError(`verify playbook failed (exit code ${r.exitCode})`);
        if (r.changed > 0)
          throw new StepError(
            `verify playbook reports changed=${r.changed} in --check mode: the image is not converged`,
          );
      }
    } catch (e) {
      this.step('verify', 1, 1, 'failed', { durationMs: Date.now() - t0, message: (e as Error).message });
      throw e;
    }
    await stopInstance(inst, true);
    this.instance = undefined;
    await rm(rootfs, { recursive: true, force: true });
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, `${image.manifestDigest}\n`);
    this.step('verify', 1, 1, 'ok', { durationMs: Date.now() - t0 });
  }

  private async postProcess(image: OciImage): Promise<void> {
    const files: string[] = [];
    const out = (pp: PostProcessor, dflt: string) => join(this.dirs.output, pp.output ?? dflt);
    const add = (kind: string, path: string) => {
      this.artifacts.push({ kind, path });
      this.emit({ type: 'build.artifact', build: this.u.name, kind, path });
    };
    for (const pp of this.u.build.postProcessors) {
      if (!selected(pp, this.u.source)) continue;
      this.checkAborted();
      const n = this.u.name;
      switch (pp.type) {
        case 'oci': {
          // Written into (not over) the layout: several builds may add their tags to one.
          const dir = out(pp, `${n}.oci`);
          await writeOciImage({
            layoutDir: dir,
            tag: image.tag,
            layers: image.layers,
            config: image.config,
            history: image.history,
            sourceDateEpoch: this.sde,
          });
          add('oci', dir);
          break;
        }
        case 'oci-archive': {
          const f = out(pp, `${n}.oci.tar`);
          await mkdir(dirname(f), { recursive: true });
          await writeOciArchive(image, f);
          files.push(f);
          add('oci-archive', f);
          break;
        }
        case 'docker-archive': {
          const f = out(pp, `${n}.docker.tar`);
          await mkdir(dirname(f), { recursive: true });
          await writeDockerArchive(image, f, pp.repoTag ?? `${this.u.build.name}:${image.tag}`);
          files.push(f);
          add('docker-archive', f);
          break;
        }
        case 'rootfs-tar': {
          const f = out(pp, `${n}.rootfs.tar`);
          await mkdir(dirname(f), { recursive: true });
          await writeRootfsTar(image, f, { sourceDateEpoch: this.sde });
          files.push(f);
          add('rootfs-tar', f);
          break;
        }
        case 'compress': {
          const ext = { gzip: 'gz', zstd: 'zst', xz: 'xz' }[pp.format as 'gzip' | 'zstd' | 'xz'] ?? 'gz';
          if (files.length === 0)
            this.say(
              'compress: no file artifacts before it (add oci-archive, docker-archive or rootfs-tar first)',
            );
          for (const f of [...files]) {
            const target = pp.output && files.length === 1 ? out(pp, '') : `${f}.${ext}`;
            await compressFile(f, target, (pp.format ?? 'gzip') as 'gzip' | 'zstd' | 'xz');
            files.push(target);
            add('compress', target);
          }
          break;
        }
        case 'checksum': {
          if (files.length === 0)
            this.say(
              'checksum: no file artifacts before it (add oci-archive, docker-archive or rootfs-tar first)',
            );
          else
            for (const algo of pp.checksumTypes) {
              const f = out(pp, `${n}.${algo.toUpperCase()}SUMS`);
              const target = pp.checksumTypes.length > 1 && pp.output ? `${f}.${algo}` : f;
              await writeChecksums(files, target, algo as 'sha256' | 'sha512');
              add('checksum', target);
            }
          break;
        }
        case 'manifest':
          break; // written once for the whole run
      }
    }
  }
}

function describeSource(s: SourceDef): string {
  switch (s.spec.type) {
    case 'debian':
      return `debian ${s.spec.suite} ${s.spec.variant}${s.spec.include.length ? ` + ${s.spec.include.join(',')}` : ''}`;
    case 'directory':
      return `directory ${s.spec.path}`;
    case 'tarball':
      return `tarball ${s.spec.path}`;
    case 'oci':
      return `oci:${s.spec.layout}:${s.spec.tag}`;
    case 'build':
      return `image of build ${s.spec.build}`;
  }
}

function startMessage(s: Provisioner): string {
  switch (s.type) {
    case 'shell':
      return s.inline
        ? 'Provisioning with shell script (inline)'
        : `Provisioning with shell script(s): ${s.scripts.map((f) => basename(f)).join(', ')}`;
    case 'file':
      return `${s.direction === 'upload' ? 'Uploading' : 'Downloading'} ${s.sources.map((f) => basename(f)).join(', ')} => ${s.destination}`;
    case 'playbook':
      return `Provisioning with drover playbook ${s.playbookFile}`;
    case 'breakpoint':
      return 'Breakpoint';
  }
}

function imageConfig(b: BuildDef): Parameters<typeof writeOciImage>[0]['config'] {
  const { tag: _tag, ...rest } = b.image;
  return rest;
}
