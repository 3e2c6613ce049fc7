/**
 * Build templates (Packer-style, in YAML): load, resolve variables and locals, template
 * every value with drover's Jinja (the playbooks' syntax), and validate. Every problem of a
 * template is collected in one pass, each with file:line:col, before anything starts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Node } from 'yaml';
import { didYouMean, ProblemList, type SourcePos, ValidationError } from '../errors.js';
import type { ImageConfig } from '../image/index.js';
import { TemplateError } from '../template/error.js';
import { Templar } from '../template/templar.js';
import { type LoadedYaml, loadYaml, mapEntry, posOf, seqItem } from '../yaml/load.js';

export type VariableType = 'string' | 'number' | 'bool' | 'list' | 'map' | 'any';
const VARIABLE_TYPES: VariableType[] = ['string', 'number', 'bool', 'list', 'map', 'any'];

export interface Variable {
  name: string;
  type: VariableType;
  description?: string;
  sensitive: boolean;
  value: unknown;
  /** Where the value came from: default, env DROVER_VAR_x, -var-file F, -var. */
  origin: string;
}

export type SourceSpec =
  | {
      type: 'debian';
      suite: string;
      variant: string;
      include: string[];
      mirror?: string;
      components: string[];
    }
  | { type: 'directory'; path: string }
  | { type: 'tarball'; path: string }
  | { type: 'oci'; layout: string; tag: string }
  | { type: 'build'; build: string };

export interface SourceDef {
  name: string;
  spec: SourceSpec;
  hostname: string;
  communicator: 'nsexec' | 'ssh';
  sshPort?: number;
  pos: SourcePos;
}

interface StepCommon {
  /** Display name: `shell`, `playbook demo.yml`, ... */
  label: string;
  only: string[];
  except: string[];
  pauseBeforeMs: number;
  maxRetries: number;
  timeoutMs?: number;
  pos: SourcePos;
}

export interface ShellStep extends StepCommon {
  type: 'shell';
  inline?: string[];
  scripts: string[];
  environmentVars: Record<string, string>;
  executeCommand: string;
  expectDisconnect: boolean;
  inlineShebang: string;
  remoteFolder: string;
}
export interface FileStep extends StepCommon {
  type: 'file';
  sources: string[];
  destination: string;
  direction: 'upload' | 'download';
}
export interface PlaybookStep extends StepCommon {
  type: 'playbook';
  playbookFile: string;
  groups: string[];
  extraVars: Record<string, unknown>;
  extraArguments: string[];
  vaultPasswordFiles: string[];
  check: boolean;
}
export interface BreakpointStep extends StepCommon {
  type: 'breakpoint';
  note: string;
  disable: boolean;
}
export type Provisioner = ShellStep | FileStep | PlaybookStep | BreakpointStep;

export interface PostProcessor {
  type: 'oci' | 'oci-archive' | 'docker-archive' | 'rootfs-tar' | 'manifest' | 'checksum' | 'compress';
  output?: string;
  repoTag?: string;
  checksumTypes: string[];
  format?: string;
  only: string[];
  except: string[];
  pos: SourcePos;
}

/** The image config a build states (src/image's ImageConfig) plus the tag it is written under. */
export interface ImageSettings extends ImageConfig {
  tag: string;
}

export interface VerifyDef {
  playbook?: PlaybookStep;
  shell: string[];
  pos: SourcePos;
}

export interface BuildDef {
  name: string;
  sources: SourceDef[];
  image: ImageSettings;
  provisioners: Provisioner[];
  postProcessors: PostProcessor[];
  verify?: VerifyDef;
  /** Globs of in-image paths left out of the snapshot layer (`/tmp/*`, `/var/log/**`). */
  exclude: string[];
  pos: SourcePos;
}

export interface BuildTemplate {
  file: string;
  dir: string;
  buildDir: string;
  sourceDateEpoch?: number;
  variables: Variable[];
  locals: Record<string, unknown>;
  builds: BuildDef[];
  /** Values of sensitive variables: masked in every output. */
  secrets: string[];
}

export interface TemplateInput {
  vars?: string[];
  varFiles?: string[];
  env?: Record<string, string | undefined>;
  buildDir?: string;
}

const TOP_KEYS = [
  'variables',
  'locals',
  'sources',
  'build',
  'builds',
  'source_date_epoch',
  'build_dir',
  'description',
];
const VARIABLE_KEYS = ['type', 'default', 'description', 'sensitive', 'validation'];
const SOURCE_COMMON = ['type', 'hostname', 'communicator', 'ssh_port'];
const SOURCE_KEYS: Record<SourceSpec['type'], string[]> = {
  debian: ['suite', 'variant', 'include', 'mirror', 'components'],
  directory: ['path'],
  tarball: ['path'],
  oci: ['image'],
  build: ['build'],
};
const BUILD_KEYS = [
  'name',
  'sources',
  'image',
  'provisioners',
  'post-processors',
  'post_processors',
  'verify',
  'exclude',
];
const IMAGE_KEYS = ['tag', 'env', 'entrypoint', 'cmd', 'labels', 'user', 'workdir', 'exposed_ports'];
const STEP_COMMON = ['type', 'name', 'only', 'except', 'pause_before', 'max_retries', 'timeout'];
const STEP_KEYS: Record<Provisioner['type'], string[]> = {
  shell: [
    'inline',
    'script',
    'scripts',
    'environment_vars',
    'execute_command',
    'expect_disconnect',
    'inline_shebang',
    'remote_folder',
  ],
  file: ['source', 'sources', 'destination', 'direction'],
  playbook: ['playbook_file', 'groups', 'extra_vars', 'extra_arguments', 'vault_password_file', 'check'],
  breakpoint: ['note', 'disable'],
};
const PP_KEYS: Record<PostProcessor['type'], string[]> = {
  oci: ['output'],
  'oci-archive': ['output'],
  'docker-archive': ['output', 'repo_tag'],
  'rootfs-tar': ['output'],
  manifest: ['output'],
  checksum: ['output', 'checksum_types'],
  compress: ['output', 'format'],
};
const VERIFY_KEYS = ['playbook', 'shell'];
const DEBIAN_VARIANTS = [
  'extract',
  'custom',
  'essential',
  'apt',
  'required',
  'minbase',
  'buildd',
  'important',
  'debootstrap',
  'standard',
];
const CHECKSUM_TYPES = ['sha256', 'sha512'];
const COMPRESS_FORMATS = ['gzip', 'zstd', 'xz'];

/** A value with its YAML node, so every check can name the place it came from. */
class Cursor {
  constructor(
    readonly value: unknown,
    readonly node: Node | null | undefined,
    readonly y: LoadedYaml,
    private readonly fallback: SourcePos,
  ) {}
  get pos(): SourcePos {
    return this.node ? posOf(this.node, this.y) : this.fallback;
  }
  keyPos(key: string): SourcePos {
    const e = mapEntry(this.node, key);
    return e ? posOf(e.key, this.y) : this.pos;
  }
  get(key: string): Cursor | undefined {
    if (!isRecord(this.value) || !Object.hasOwn(this.value, key)) return undefined;
    const e = mapEntry(this.node, key);
    return new Cursor(this.value[key], e?.value ?? e?.key, this.y, this.pos);
  }
  item(i: number): Cursor {
    const v = Array.isArray(this.value) ? this.value[i] : undefined;
    return new Cursor(v, seqItem(this.node, i), this.y, this.pos);
  }
  entries(): [string, Cursor][] {
    if (!isRecord(this.value)) return [];
    return Object.keys(this.value).map((k) => [k, this.get(k)!]);
  }
  items(): Cursor[] {
    return Array.isArray(this.value) ? this.value.map((_, i) => this.item(i)) : [];
  }
  with(value: unknown): Cursor {
    return new Cursor(value, this.node, this.y, this.fallback);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'number') return 'a number';
  return 'a string';
}

/** Parses `-var name=value` and converts CLI/env strings to the declared type. */
function fromText(text: string, type: VariableType): { value?: unknown; error?: string } {
  switch (type) {
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? { value: n } : { error: `'${text}' is not a number` };
    }
    case 'bool':
      if (/^(true|yes|on|1)$/i.test(text)) return { value: true };
      if (/^(false|no|off|0)$/i.test(text)) return { value: false };
      return { error: `'${text}' is not a boolean (true or false)` };
    case 'list':
    case 'map': {
      const y = loadYaml(text, '<value>');
      const v = y.docs[0];
      if (y.problems.length || (type === 'list' ? !Array.isArray(v) : !isRecord(v)))
        return {
          error: `'${text}' is not a ${type} (write it as JSON or YAML flow: ${type === 'list' ? '[a, b]' : '{k: v}'})`,
        };
      return { value: v };
    }
    default:
      return { value: text };
  }
}

function hasType(v: unknown, type: VariableType): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number';
    case 'bool':
      return typeof v === 'boolean';
    case 'list':
      return Array.isArray(v);
    case 'map':
      return isRecord(v);
    default:
      return true;
  }
}

function durationMs(v: unknown): number | undefined {
  if (typeof v === 'number') return v * 1000;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 's']!;
}

/**
 * Loads and validates a template. Throws ValidationError with every problem found; warnings
 * (unused things) ride along on success in `warnings`.
 */
export function loadTemplate(fileArg: string, input: TemplateInput = {}): BuildTemplate {
  const file = resolve(fileArg);
  const problems = new ProblemList();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    problems.add(`template ${fileArg} could not be read`, undefined, 'check the path');
    throw new ValidationError(problems.items);
  }
  const y = loadYaml(text, fileArg);
  for (const p of y.problems) problems.add(p.message, p.pos);
  problems.throwIfAny();
  const top = new Cursor(y.docs[0], y.nodes[0], y, { file: fileArg, line: 1, col: 1 });
  if (!isRecord(top.value)) {
    problems.add('a build template must be a mapping with sources and build', top.pos);
    throw new ValidationError(problems.items);
  }
  const v = new Validator(problems, dirname(file), input);
  const tpl = v.template(top);
  problems.throwIfAny();
  return { ...tpl, file };
}

class Validator {
  private readonly templar: Templar;
  private vars: Record<string, unknown> = {};
  private readonly secrets: string[] = [];
  /** Sources named in the template, valid or not (a broken one is reported once, not at every use). */
  private readonly declaredSources = new Set<string>();
  /** Variables and locals whose value was already reported as wrong: later uses stay quiet. */
  private readonly broken = new Set<string>();

  constructor(
    private readonly p: ProblemList,
    private readonly dir: string,
    private readonly input: TemplateInput,
  ) {
    this.templar = new Templar({ cwd: dir, warn: () => undefined });
  }

  unknownKeys(c: Cursor, allowed: string[], what: string): void {
    for (const [k] of c.entries()) {
      if (allowed.includes(k)) continue;
      const near = didYouMean(k, allowed);
      this.p.add(
        `unknown key '${k}' in ${what}`,
        c.keyPos(k),
        near ? `did you mean '${near}'?` : `allowed keys: ${allowed.join(', ')}`,
      );
    }
  }

  /** Templates a value; an undefined variable or a Jinja error becomes a problem at its position. */
  render(c: Cursor, extra: Record<string, unknown> = {}): unknown {
    try {
      return this.templar.template(c.value, { ...this.vars, ...extra });
    } catch (e) {
      if (e instanceof TemplateError) {
        if (e.undefinedName && this.broken.has(e.undefinedName)) return undefined;
        const hint = e.undefinedName
          ? this.undefinedHint(e.undefinedName)
          : (e.hint ?? 'check the Jinja syntax');
        this.p.add(
          e.undefinedName ? `undefined variable '${e.undefinedName}'` : `template error: ${e.message}`,
          c.pos,
          hint,
        );
        return undefined;
      }
      throw e;
    }
  }

  private undefinedHint(name: string): string {
    const near = didYouMean(name, Object.keys(this.vars));
    return near ? `did you mean '${near}'?` : 'declare it under variables: or locals:';
  }

  str(c: Cursor | undefined, what: string, extra?: Record<string, unknown>): string | undefined {
    if (!c) return undefined;
    const v = this.render(c, extra);
    if (v === undefined) return undefined;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') {
      this.p.add(`${what} must be a string, got ${typeName(v)}`, c.pos);
      return undefined;
    }
    return v;
  }

  required(c: Cursor, key: string, what: string): string | undefined {
    const sub = c.get(key);
    if (!sub || sub.value === null) {
      this.p.add(`${what} needs '${key}'`, c.pos);
      return undefined;
    }
    return this.str(sub, `${key} of ${what}`);
  }

  strList(c: Cursor | undefined, what: string): string[] {
    if (!c || c.value === null) return [];
    const v = this.render(c);
    if (v === undefined) return [];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v) || v.some((x) => typeof x === 'object' && x !== null)) {
      this.p.add(`${what} must be a list of strings, got ${typeName(v)}`, c.pos);
      return [];
    }
    return v.map(String);
  }

  strMap(c: Cursor | undefined, what: string): Record<string, string> | undefined {
    if (!c || c.value === null) return undefined;
    const v = this.render(c);
    if (v === undefined) return undefined;
    if (!isRecord(v) || Object.values(v).some((x) => typeof x === 'object' && x !== null)) {
      this.p.add(`${what} must be a mapping of strings, got ${typeName(v)}`, c.pos);
      return undefined;
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  }

  bool(c: Cursor | undefined, what: string, dflt: boolean): boolean {
    if (!c) return dflt;
    const v = this.render(c);
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false|yes|no)$/i.test(v)) return /^(true|yes)$/i.test(v);
    if (v !== undefined) this.p.add(`${what} must be a boolean, got ${typeName(v)}`, c.pos);
    return dflt;
  }

  int(c: Cursor | undefined, what: string): number | undefined {
    if (!c) return undefined;
    const v = this.render(c);
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return n;
    if (v !== undefined)
      this.p.add(`${what} must be a whole number, got ${typeName(v)} ${JSON.stringify(v)}`, c.pos);
    return undefined;
  }

  duration(c: Cursor | undefined, what: string): number | undefined {
    if (!c) return undefined;
    const v = this.render(c);
    const ms = durationMs(v);
    if (ms === undefined && v !== undefined)
      this.p.add(`${what} must be a duration like 30s, 5m or 1h, got ${JSON.stringify(v)}`, c.pos);
    return ms;
  }

  /** A controller file the template names, resolved against the template's directory. */
  file(c: Cursor | undefined, what: string, kind: 'file' | 'dir' | 'any' = 'file'): string | undefined {
    const s = this.str(c, what);
    if (s === undefined || !c) return undefined;
    const path = isAbsolute(s) ? s : resolve(this.dir, s);
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(path);
    } catch {
      this.p.add(`${what} ${s} does not exist`, c.pos, `looked for ${path}`);
      return path;
    }
    if (kind === 'file' && !st.isFile()) this.p.add(`${what} ${s} is not a file`, c.pos);
    if (kind === 'dir' && !st.isDirectory()) this.p.add(`${what} ${s} is not a directory`, c.pos);
    return path;
  }

  private oneOf<T extends string>(c: Cursor | undefined, what: string, choices: readonly T[], dflt: T): T {
    const s = this.str(c, what);
    if (s === undefined || !c) return dflt;
    if ((choices as readonly string[]).includes(s)) return s as T;
    const near = didYouMean(s, choices);
    this.p.add(
      `${what} '${s}' is not one of ${choices.join(', ')}`,
      c.pos,
      near ? `did you mean '${near}'?` : undefined,
    );
    return dflt;
  }

  template(top: Cursor): Omit<BuildTemplate, 'file'> {
    this.unknownKeys(top, TOP_KEYS, 'the template');
    const variables = this.variables(top.get('variables'));
    const locals = this.locals(top.get('locals'));
    let sourceDateEpoch: number | undefined;
    const sde = top.get('source_date_epoch');
    if (sde) sourceDateEpoch = this.int(sde, 'source_date_epoch');
    const bd = this.str(top.get('build_dir'), 'build_dir');
    const buildDir = this.input.buildDir
      ? resolve(this.input.buildDir)
      : resolve(this.dir, bd ?? '.drover-build');

    const sources = new Map<string, SourceDef>();
    const srcC = top.get('sources');
    if (!srcC || !isRecord(srcC.value) || Object.keys(srcC.value).length === 0) {
      this.p.add(
        'the template defines no sources',
        srcC?.pos ?? top.pos,
        'add sources: { NAME: { type: debian, suite: bookworm } }',
      );
    } else {
      for (const [name, c] of srcC.entries()) {
        this.declaredSources.add(name);
        const s = this.source(name, c);
        if (s) sources.set(name, s);
      }
    }
    const builds: BuildDef[] = [];
    const buildC = top.get('builds') ?? top.get('build');
    if (top.get('builds') && top.get('build'))
      this.p.add("use either 'build' or 'builds', not both", top.keyPos('build'));
    if (!buildC)
      this.p.add(
        'the template has no build block',
        top.pos,
        'add build: { sources: [NAME], provisioners: [...] }',
      );
    else {
      const list = Array.isArray(buildC.value) ? buildC.items() : [buildC];
      list.forEach((c, i) => {
        const b = this.build(c, i, sources, list.length);
        if (b) builds.push(b);
      });
    }
    const names = builds.map((b) => b.name);
    for (const b of builds) {
      if (names.indexOf(b.name) !== names.lastIndexOf(b.name))
        this.p.add(`two builds are named '${b.name}'`, b.pos);
      for (const s of b.sources) {
        if (s.spec.type !== 'build') continue;
        const dep = s.spec.build;
        if (!names.includes(dep)) {
          const near = didYouMean(dep, names);
          this.p.add(
            `source ${s.name} builds on '${dep}', which is not a build of this template`,
            s.pos,
            near ? `did you mean '${near}'?` : `builds: ${names.join(', ')}`,
          );
        } else if (dep === b.name) this.p.add(`build ${b.name} cannot build on itself`, s.pos);
      }
    }
    return {
      dir: this.dir,
      buildDir,
      ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
      variables,
      locals,
      builds,
      secrets: this.secrets,
    };
  }

  variables(c: Cursor | undefined): Variable[] {
    const out: Variable[] = [];
    const declared = new Map<string, Cursor>();
    if (c && c.value !== null && !isRecord(c.value))
      this.p.add('variables must be a mapping of names to declarations', c.pos);
    for (const [name, d] of c?.entries() ?? []) declared.set(name, d);
    const given = new Map<string, { text?: string; value?: unknown; origin: string; pos?: SourcePos }>();
    const env = this.input.env ?? process.env;
    for (const [k, val] of Object.entries(env)) {
      if (k.startsWith('DROVER_VAR_') && val !== undefined && declared.has(k.slice(11)))
        given.set(k.slice(11), { text: val, origin: `environment variable ${k}` });
    }
    for (const vf of this.input.varFiles ?? []) {
      let t: string;
      try {
        t = readFileSync(vf, 'utf8');
      } catch {
        this.p.add(`-var-file ${vf} could not be read`, undefined, 'check the path');
        continue;
      }
      const y = loadYaml(t, vf);
      for (const pr of y.problems) this.p.add(pr.message, pr.pos);
      const fc = new Cursor(y.docs[0], y.nodes[0], y, { file: vf, line: 1, col: 1 });
      if (fc.value === null || fc.value === undefined) continue; // an empty file sets nothing
      if (!isRecord(fc.value)) {
        if (y.problems.length === 0)
          this.p.add(`-var-file ${vf} must be a mapping of variable names to values`, fc.pos);
        continue;
      }
      for (const [k, kc] of fc.entries()) {
        if (!declared.has(k)) {
          const near = didYouMean(k, declared.keys());
          this.p.add(
            `undefined variable '${k}' assigned in ${vf}`,
            fc.keyPos(k),
            near ? `did you mean '${near}'?` : 'declare it under variables:',
          );
          continue;
        }
        given.set(k, { value: kc.value, origin: `-var-file ${vf}`, pos: kc.pos });
      }
    }
    for (const a of this.input.vars ?? []) {
      const eq = a.indexOf('=');
      if (eq <= 0) {
        this.p.add(`-var ${a}: expected NAME=VALUE`);
        continue;
      }
      const k = a.slice(0, eq);
      if (!declared.has(k)) {
        const near = didYouMean(k, declared.keys());
        this.p.add(
          `undefined variable '${k}' set with -var`,
          undefined,
          near ? `did you mean '${near}'?` : 'declare it under variables: in the template',
        );
        continue;
      }
      given.set(k, { text: a.slice(eq + 1), origin: '-var' });
    }

    for (const [name, d] of declared) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        this.p.add(`variable name '${name}' is not a valid identifier`, c!.keyPos(name));
      const decl = isRecord(d.value) ? d : d.with({ default: d.value });
      if (isRecord(d.value)) this.unknownKeys(d, VARIABLE_KEYS, `variable ${name}`);
      const type = this.oneOf(decl.get('type'), `type of variable ${name}`, VARIABLE_TYPES, 'any');
      const sensitive = this.bool(decl.get('sensitive'), `sensitive of variable ${name}`, false);
      const description = decl.get('description')?.value;
      const g = given.get(name);
      let value: unknown;
      let origin = 'default';
      let where = decl.get('default')?.pos ?? d.pos;
      if (g) {
        origin = g.origin;
        if (g.pos) where = g.pos;
        if (g.text !== undefined) {
          const r = fromText(g.text, type);
          if (r.error) {
            this.p.add(`variable ${name} (from ${g.origin}): ${r.error}`, g.pos ?? d.pos);
            this.broken.add(name);
            continue;
          }
          value = r.value;
        } else value = g.value;
      } else if (decl.get('default') !== undefined) {
        value = decl.get('default')!.value;
      } else {
        this.p.add(
          `variable ${name} has no value`,
          c!.keyPos(name),
          `give it a default, or pass -var ${name}=VALUE, -var-file or DROVER_VAR_${name}`,
        );
        this.broken.add(name);
        continue;
      }
      if (value !== null && !hasType(value, type)) {
        this.p.add(`variable ${name} must be a ${type}, got ${typeName(value)} (from ${origin})`, where);
        this.broken.add(name);
        continue;
      }
      if (sensitive && value !== null && value !== undefined)
        this.secrets.push(typeof value === 'string' ? value : JSON.stringify(value));
      this.vars[name] = value;
      const v: Variable = { name, type, sensitive, value, origin };
      if (typeof description === 'string') v.description = description;
      out.push(v);
    }
    // Validation rules run once every value is known (a rule may compare two variables).
    for (const [name, d] of declared) {
      const rules = isRecord(d.value) ? d.get('validation') : undefined;
      if (!rules || !(name in this.vars)) continue;
      const list = Array.isArray(rules.value) ? rules.items() : [rules];
      for (const r of list) {
        if (!isRecord(r.value)) {
          this.p.add(`validation of variable ${name} must be a list of {condition, error_message}`, r.pos);
          continue;
        }
        this.unknownKeys(r, ['condition', 'error_message'], `validation of variable ${name}`);
        const cond = r.get('condition');
        if (!cond || typeof cond.value !== 'string') {
          this.p.add(`validation of variable ${name} needs a condition (a Jinja expression)`, r.pos);
          continue;
        }
        let ok = false;
        try {
          ok = this.templar.condition(cond.value, this.vars);
        } catch (e) {
          this.p.add(`validation of variable ${name}: ${(e as Error).message}`, cond.pos);
          continue;
        }
        if (!ok) {
          const msg = r.get('error_message')?.value;
          this.p.add(
            `invalid value for variable ${name}: ${typeof msg === 'string' ? msg : `${cond.value} is false`}`,
            cond.pos,
          );
        }
      }
    }
    return out;
  }

  locals(c: Cursor | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (!c || c.value === null) return out;
    if (!isRecord(c.value)) {
      this.p.add('locals must be a mapping', c.pos);
      return out;
    }
    for (const [name] of c.entries()) {
      if (name in this.vars) this.p.add(`local '${name}' has the name of a variable`, c.keyPos(name));
    }
    // Lazy: a local may use variables and other locals, in any order (the Templar resolves them).
    const raw = c.value;
    const scope = (n: string): unknown => (Object.hasOwn(raw, n) ? raw[n] : this.vars[n]);
    for (const [name, lc] of c.entries()) {
      try {
        out[name] = this.templar.template(lc.value, scope);
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        this.broken.add(name);
        if (e.undefinedName && this.broken.has(e.undefinedName)) continue;
        this.p.add(
          e.undefinedName
            ? `undefined variable '${e.undefinedName}' in local ${name}`
            : `local ${name}: ${e.message}`,
          lc.pos,
          e.undefinedName ? this.undefinedHint(e.undefinedName) : undefined,
        );
      }
    }
    Object.assign(this.vars, out);
    return out;
  }

  source(name: string, c: Cursor): SourceDef | undefined {
    if (!isRecord(c.value)) {
      this.p.add(`source ${name} must be a mapping with a type`, c.pos);
      return undefined;
    }
    const typeC = c.get('type');
    const types = Object.keys(SOURCE_KEYS) as SourceSpec['type'][];
    if (!typeC) {
      this.p.add(`source ${name} needs a type`, c.pos, `one of: ${types.join(', ')}`);
      return undefined;
    }
    const type = this.str(typeC, `type of source ${name}`);
    if (type === undefined) return undefined;
    if (!(types as string[]).includes(type)) {
      const near = didYouMean(type, types);
      this.p.add(
        `unknown source type '${type}' in source ${name}`,
        typeC.pos,
        near ? `did you mean '${near}'?` : `source types: ${types.join(', ')}`,
      );
      return undefined;
    }
    const t = type as SourceSpec['type'];
    this.unknownKeys(c, [...SOURCE_COMMON, ...SOURCE_KEYS[t]], `source ${name} (type ${t})`);
    const what = `source ${name}`;
    let spec: SourceSpec | undefined;
    switch (t) {
      case 'debian': {
        const include = this.strList(c.get('include'), `include of ${what}`);
        const mirror = this.str(c.get('mirror'), `mirror of ${what}`);
        spec = {
          type: 'debian',
          suite: this.str(c.get('suite'), `suite of ${what}`) ?? 'bookworm',
          variant: this.oneOf(c.get('variant'), `variant of ${what}`, DEBIAN_VARIANTS, 'minbase'),
          include,
          components: this.strList(c.get('components'), `components of ${what}`),
          ...(mirror ? { mirror } : {}),
        };
        break;
      }
      case 'directory': {
        const path = c.get('path')
          ? this.file(c.get('path'), `directory of ${what}`, 'dir')
          : this.required(c, 'path', what);
        if (path) spec = { type: 'directory', path };
        break;
      }
      case 'tarball': {
        const path = c.get('path')
          ? this.file(c.get('path'), `tarball of ${what}`, 'file')
          : this.required(c, 'path', what);
        if (path) spec = { type: 'tarball', path };
        break;
      }
      case 'oci': {
        const ref = this.required(c, 'image', what);
        if (ref === undefined) break;
        const m = /^(?:oci:)?(.+?)(?::([^:/]+))?$/.exec(ref);
        const layout = resolve(this.dir, m?.[1] ?? ref);
        if (!existsSync(`${layout}/index.json`))
          this.p.add(
            `image ${ref} of ${what}: ${layout} is not an OCI image layout (no index.json)`,
            c.get('image')!.pos,
            'write it as oci:DIR:TAG',
          );
        spec = { type: 'oci', layout, tag: m?.[2] ?? 'latest' };
        break;
      }
      case 'build': {
        const b = this.required(c, 'build', what);
        if (b) spec = { type: 'build', build: b };
        break;
      }
    }
    const communicator = this.oneOf(
      c.get('communicator'),
      `communicator of ${what}`,
      ['nsexec', 'ssh'] as const,
      'nsexec',
    );
    const sshPort = this.int(c.get('ssh_port'), `ssh_port of ${what}`);
    if (communicator === 'ssh' && !c.get('ssh_port'))
      this.p.add(
        `${what} uses communicator ssh and needs ssh_port`,
        c.keyPos('communicator'),
        'pick a free port on 127.0.0.1',
      );
    if (!spec) return undefined;
    const hostname = this.str(c.get('hostname'), `hostname of ${what}`) ?? name;
    const s: SourceDef = { name, spec, hostname, communicator, pos: c.pos };
    if (sshPort !== undefined) s.sshPort = sshPort;
    return s;
  }

  build(c: Cursor, i: number, sources: Map<string, SourceDef>, count: number): BuildDef | undefined {
    if (!isRecord(c.value)) {
      this.p.add('a build must be a mapping with sources and provisioners', c.pos);
      return undefined;
    }
    this.unknownKeys(c, BUILD_KEYS, 'build');
    const name = this.str(c.get('name'), 'name of build') ?? (count === 1 ? 'default' : `build${i + 1}`);
    const what = `build ${name}`;
    const extra = { build: { name } };
    const srcs: SourceDef[] = [];
    const sc = c.get('sources');
    if (!sc)
      this.p.add(`${what} names no sources`, c.pos, `add sources: [${[...sources.keys()].join(', ')}]`);
    for (const item of sc ? (Array.isArray(sc.value) ? sc.items() : [sc]) : []) {
      const n = this.str(item, `source of ${what}`);
      if (n === undefined) continue;
      const ref = n.replace(/^source\./, '');
      const s = sources.get(ref);
      if (s) srcs.push(s);
      else if (!this.declaredSources.has(ref)) {
        const near = didYouMean(ref, sources.keys());
        this.p.add(
          `${what} uses source '${n}', which is not defined`,
          item.pos,
          near ? `did you mean '${near}'?` : `sources: ${[...sources.keys()].join(', ') || '(none)'}`,
        );
      }
    }
    const image = this.image(c.get('image'), name);
    const provisioners: Provisioner[] = [];
    const pc = c.get('provisioners');
    if (pc && !Array.isArray(pc.value) && pc.value !== null)
      this.p.add(`provisioners of ${what} must be a list`, pc.pos);
    for (const item of pc?.items() ?? []) {
      const s = this.step(item, what, extra);
      if (s) provisioners.push(s);
    }
    const postProcessors: PostProcessor[] = [];
    const ppc = c.get('post-processors') ?? c.get('post_processors');
    if (ppc && !Array.isArray(ppc.value) && ppc.value !== null)
      this.p.add(`post-processors of ${what} must be a list`, ppc.pos);
    for (const item of ppc?.items() ?? []) {
      const pp = this.postProcessor(item, what, extra);
      if (pp) postProcessors.push(pp);
    }
    const b: BuildDef = {
      name,
      sources: srcs,
      image,
      provisioners,
      postProcessors,
      exclude: this.strList(c.get('exclude'), `exclude of ${what}`),
      pos: c.pos,
    };
    const vc = c.get('verify');
    if (vc) {
      if (!isRecord(vc.value))
        this.p.add(`verify of ${what} must be a mapping with playbook and/or shell`, vc.pos);
      else {
        this.unknownKeys(vc, VERIFY_KEYS, `verify of ${what}`);
        const v: VerifyDef = { shell: this.strList(vc.get('shell'), `shell of verify`), pos: vc.pos };
        const pb = vc.get('playbook');
        if (pb) {
          const asStep = isRecord(pb.value)
            ? pb.with({ type: 'playbook', ...pb.value })
            : pb.with({ type: 'playbook', playbook_file: pb.value });
          const s = this.step(asStep, `verify of ${what}`, extra);
          if (s?.type === 'playbook') v.playbook = s;
        }
        b.verify = v;
      }
    }
    return b;
  }

  image(c: Cursor | undefined, build: string): ImageSettings {
    const out: ImageSettings = { tag: 'latest' };
    if (!c || c.value === null) return out;
    if (!isRecord(c.value)) {
      this.p.add(`image of build ${build} must be a mapping`, c.pos);
      return out;
    }
    this.unknownKeys(c, IMAGE_KEYS, `image of build ${build}`);
    const what = `image.%s of build ${build}`;
    out.tag = this.str(c.get('tag'), what.replace('%s', 'tag')) ?? 'latest';
    const env = this.strMap(c.get('env'), what.replace('%s', 'env'));
    if (env) out.env = env;
    const labels = this.strMap(c.get('labels'), what.replace('%s', 'labels'));
    if (labels) out.labels = labels;
    for (const k of ['entrypoint', 'cmd'] as const)
      if (c.get(k)) out[k] = this.strList(c.get(k), what.replace('%s', k));
    if (c.get('exposed_ports'))
      out.exposedPorts = this.strList(c.get('exposed_ports'), what.replace('%s', 'exposed_ports'));
    const user = this.str(c.get('user'), what.replace('%s', 'user'));
    if (user) out.user = user;
    const workdir = this.str(c.get('workdir'), what.replace('%s', 'workdir'));
    if (workdir) out.workdir = workdir;
    return out;
  }

  step(c: Cursor, what: string, extra: Record<string, unknown>): Provisioner | undefined {
    if (!isRecord(c.value)) {
      this.p.add(`a provisioner of ${what} must be a mapping with a type`, c.pos);
      return undefined;
    }
    const types = Object.keys(STEP_KEYS) as Provisioner['type'][];
    const typeC = c.get('type');
    const type = typeC ? this.str(typeC, 'provisioner type', extra) : undefined;
    if (!typeC) {
      this.p.add(`a provisioner of ${what} has no type`, c.pos, `one of: ${types.join(', ')}`);
      return undefined;
    }
    if (type === undefined) return undefined;
    if (!(types as string[]).includes(type)) {
      const near = type === 'ansible' || type === 'ansible-local' ? 'playbook' : didYouMean(type, types);
      this.p.add(
        `unknown provisioner type '${type}'`,
        typeC.pos,
        near ? `did you mean '${near}'?` : `provisioner types: ${types.join(', ')}`,
      );
      return undefined;
    }
    const t = type as Provisioner['type'];
    this.unknownKeys(c, [...STEP_COMMON, ...STEP_KEYS[t]], `${t} provisioner`);
    const pw = `${t} provisioner`;
    const common: StepCommon = {
      label: this.str(c.get('name'), `name of ${pw}`) ?? t,
      only: this.strList(c.get('only'), `only of ${pw}`),
      except: this.strList(c.get('except'), `except of ${pw}`),
      pauseBeforeMs: this.duration(c.get('pause_before'), `pause_before of ${pw}`) ?? 0,
      maxRetries: this.int(c.get('max_retries'), `max_retries of ${pw}`) ?? 0,
      pos: c.pos,
    };
    const timeout = this.duration(c.get('timeout'), `timeout of ${pw}`);
    if (timeout !== undefined) common.timeoutMs = timeout;
    switch (t) {
      case 'shell': {
        const inline = c.get('inline') ? this.strList(c.get('inline'), `inline of ${pw}`) : undefined;
        const scripts: string[] = [];
        const sc = c.get('script');
        if (sc) {
          const f = this.file(sc, `script of ${pw}`);
          if (f) scripts.push(f);
        }
        const ssc = c.get('scripts');
        if (ssc && !Array.isArray(ssc.value)) this.p.add(`scripts of ${pw} must be a list of files`, ssc.pos);
        for (const item of ssc?.items() ?? []) {
          const f = this.file(item, `script of ${pw}`);
          if (f) scripts.push(f);
        }
        const given = [inline ? 'inline' : '', sc ? 'script' : '', ssc ? 'scripts' : ''].filter(Boolean);
        if (given.length !== 1)
          this.p.add(
            given.length === 0
              ? `${pw} needs one of inline, script or scripts`
              : `${pw}: use only one of ${given.join(', ')}`,
            c.pos,
          );
        const envList = this.strList(c.get('environment_vars'), `environment_vars of ${pw}`);
        const environmentVars: Record<string, string> = {};
        for (const e of envList) {
          const eq = e.indexOf('=');
          if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.slice(0, eq))) {
            this.p.add(`environment_vars of ${pw}: '${e}' is not NAME=value`, c.get('environment_vars')!.pos);
          } else environmentVars[e.slice(0, eq)] = e.slice(eq + 1);
        }
        const ec = c.get('execute_command');
        const s: ShellStep = {
          ...common,
          type: 'shell',
          scripts,
          environmentVars,
          // Kept raw: {{ path }} and {{ vars }} are filled in per script at run time.
          executeCommand:
            typeof ec?.value === 'string' ? ec.value : 'chmod +x {{ path }}; {{ vars }} {{ path }}',
          expectDisconnect: this.bool(c.get('expect_disconnect'), `expect_disconnect of ${pw}`, false),
          inlineShebang: this.str(c.get('inline_shebang'), `inline_shebang of ${pw}`) ?? '/bin/sh -e',
          remoteFolder: this.str(c.get('remote_folder'), `remote_folder of ${pw}`) ?? '/tmp',
        };
        if (ec && typeof ec.value !== 'string')
          this.p.add(`execute_command of ${pw} must be a string`, ec.pos);
        if (inline) s.inline = inline;
        return s;
      }
      case 'file': {
        const direction = this.oneOf(
          c.get('direction'),
          `direction of ${pw}`,
          ['upload', 'download'] as const,
          'upload',
        );
        const destination = this.required(c, 'destination', pw) ?? '';
        const sources: string[] = [];
        const list = [c.get('source'), ...(c.get('sources')?.items() ?? [])].filter(
          (x): x is Cursor => x !== undefined,
        );
        if (list.length === 0) this.p.add(`${pw} needs source or sources`, c.pos);
        for (const item of list) {
          const f =
            direction === 'upload'
              ? this.file(item, `source of ${pw}`, 'any')
              : this.str(item, `source of ${pw}`);
          if (f) sources.push(f);
        }
        return {
          ...common,
          type: 'file',
          sources,
          destination:
            direction === 'download'
              ? `${resolve(this.dir, destination)}${destination.endsWith('/') ? '/' : ''}`
              : destination,
          direction,
        };
      }
      case 'playbook': {
        const playbookFile = c.get('playbook_file')
          ? this.file(c.get('playbook_file'), `playbook_file of ${pw}`)
          : this.required(c, 'playbook_file', pw);
        const evC = c.get('extra_vars');
        const ev = evC ? this.render(evC) : {};
        if (ev !== undefined && !isRecord(ev)) this.p.add(`extra_vars of ${pw} must be a mapping`, evC!.pos);
        const vpf: string[] = [];
        const vc = c.get('vault_password_file');
        for (const item of vc ? (Array.isArray(vc.value) ? vc.items() : [vc]) : []) {
          const f = this.file(item, `vault_password_file of ${pw}`);
          if (f) vpf.push(f);
        }
        if (typeof playbookFile === 'string' && playbookFile !== '')
          common.label = c.get('name') ? common.label : `playbook ${playbookFile.split('/').pop()}`;
        return {
          ...common,
          type: 'playbook',
          playbookFile: playbookFile ?? '',
          groups: this.strList(c.get('groups'), `groups of ${pw}`),
          extraVars: isRecord(ev) ? ev : {},
          extraArguments: this.strList(c.get('extra_arguments'), `extra_arguments of ${pw}`),
          vaultPasswordFiles: vpf,
          check: this.bool(c.get('check'), `check of ${pw}`, false),
        };
      }
      case 'breakpoint':
        return {
          ...common,
          type: 'breakpoint',
          note: this.str(c.get('note'), `note of ${pw}`) ?? '',
          disable: this.bool(c.get('disable'), `disable of ${pw}`, false),
        };
    }
  }

  postProcessor(c: Cursor, what: string, extra: Record<string, unknown>): PostProcessor | undefined {
    if (!isRecord(c.value)) {
      this.p.add(`a post-processor of ${what} must be a mapping with a type`, c.pos);
      return undefined;
    }
    const types = Object.keys(PP_KEYS) as PostProcessor['type'][];
    const typeC = c.get('type');
    if (!typeC) {
      this.p.add(`a post-processor of ${what} has no type`, c.pos, `one of: ${types.join(', ')}`);
      return undefined;
    }
    const type = this.str(typeC, 'post-processor type', extra);
    if (type === undefined) return undefined;
    if (!(types as string[]).includes(type)) {
      const near = didYouMean(type, types);
      this.p.add(
        `unknown post-processor type '${type}'`,
        typeC.pos,
        near ? `did you mean '${near}'?` : `post-processor types: ${types.join(', ')}`,
      );
      return undefined;
    }
    const t = type as PostProcessor['type'];
    this.unknownKeys(c, ['type', 'only', 'except', ...PP_KEYS[t]], `${t} post-processor`);
    const pw = `${t} post-processor`;
    const pp: PostProcessor = {
      type: t,
      checksumTypes: [],
      only: this.strList(c.get('only'), `only of ${pw}`),
      except: this.strList(c.get('except'), `except of ${pw}`),
      pos: c.pos,
    };
    const out = this.str(c.get('output'), `output of ${pw}`, extra);
    if (out) pp.output = out;
    if (t === 'docker-archive')
      pp.repoTag =
        this.str(c.get('repo_tag'), `repo_tag of ${pw}`, extra) ??
        `${extra.build && (extra.build as { name: string }).name}:latest`;
    if (t === 'checksum') {
      pp.checksumTypes = c.get('checksum_types')
        ? this.strList(c.get('checksum_types'), `checksum_types of ${pw}`)
        : ['sha256'];
      for (const ct of pp.checksumTypes) {
        if (!CHECKSUM_TYPES.includes(ct))
          this.p.add(
            `checksum type '${ct}' is not one of ${CHECKSUM_TYPES.join(', ')}`,
            c.get('checksum_types')!.pos,
            didYouMean(ct, CHECKSUM_TYPES) ? `did you mean '${didYouMean(ct, CHECKSUM_TYPES)}'?` : undefined,
          );
      }
    }
    if (t === 'compress')
      pp.format = this.oneOf(c.get('format'), `format of ${pw}`, COMPRESS_FORMATS, 'gzip');
    return pp;
  }
}

/** Whether a step or post-processor runs for this source (`only`/`except` globs on `name` or `type.name`). */
export function selected(step: { only: string[]; except: string[] }, source: SourceDef): boolean {
  const names = [source.name, `${source.spec.type}.${source.name}`, `source.${source.name}`];
  const hit = (globs: string[]) => globs.some((g) => names.some((n) => globMatch(g, n)));
  if (step.only.length > 0 && !hit(step.only)) return false;
  return !hit(step.except);
}

export function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
  );
  return re.test(name);
}
