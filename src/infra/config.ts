/**
 * Loading a directory of `*.infra.yml` files (and the local modules it uses) into a typed
 * configuration with source positions. Every problem of every file is collected in one pass.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { Node } from 'yaml';
import { didYouMean, ProblemList, type SourcePos } from '../errors.js';
import { isMap, type LoadedYaml, loadYaml, mapEntry, posOf } from '../yaml/load.js';
import type { ResourceType } from './provider.js';

export interface VariableConfig {
  name: string;
  type: string;
  default?: unknown;
  hasDefault: boolean;
  description?: string;
  sensitive: boolean;
  validation: { condition: string; errorMessage: string; pos: SourcePos }[];
  pos: SourcePos;
}

export interface LifecycleConfig {
  createBeforeDestroy: boolean;
  preventDestroy: boolean;
  ignoreChanges: string[] | 'all';
  replaceTriggeredBy: string[];
}

export interface ResourceConfig {
  mode: 'managed' | 'data';
  type: string;
  name: string;
  /** `local_file.a` or `data.local_file.a` (without module prefix). */
  localKey: string;
  /** Module path prefix (`module.m.`), "" at the root. */
  modulePrefix: string;
  body: Record<string, unknown>;
  count?: unknown;
  forEach?: unknown;
  dependsOn: { ref: string; pos: SourcePos }[];
  lifecycle: LifecycleConfig;
  pos: SourcePos;
  attrPos: Record<string, SourcePos>;
}

export interface OutputConfig {
  name: string;
  value: unknown;
  sensitive: boolean;
  description?: string;
  pos: SourcePos;
}

export interface ModuleCall {
  name: string;
  source: string;
  inputs: Record<string, unknown>;
  inputPos: Record<string, SourcePos>;
  pos: SourcePos;
  module: ModuleConfig;
}

export interface BackendConfig {
  kind: 'local' | 'pg';
  options: Record<string, unknown>;
  pos?: SourcePos;
}

export interface ModuleConfig {
  dir: string;
  /** `module.a.module.b.`, "" for the root. */
  prefix: string;
  variables: Map<string, VariableConfig>;
  locals: Map<string, { value: unknown; pos: SourcePos }>;
  resources: Map<string, ResourceConfig>;
  outputs: Map<string, OutputConfig>;
  modules: Map<string, ModuleCall>;
  backend?: BackendConfig;
  files: string[];
}

const TOP_KEYS = ['variables', 'locals', 'resources', 'data', 'outputs', 'modules', 'backend'];
const META_KEYS = ['count', 'for_each', 'depends_on', 'lifecycle', 'provider'];
const LIFECYCLE_KEYS = ['create_before_destroy', 'prevent_destroy', 'ignore_changes', 'replace_triggered_by'];
const VARIABLE_KEYS = ['type', 'default', 'description', 'sensitive', 'validation', 'nullable'];
export const VARIABLE_TYPES = ['string', 'number', 'bool', 'list', 'map', 'any'];
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export interface LoadOptions {
  types: { managed: Map<string, ResourceType>; data: Map<string, ResourceType> };
}

/** Positions of the parts of one file's document. */
class Doc {
  constructor(
    readonly y: LoadedYaml,
    readonly root: Node | null,
  ) {}
  pos(node: Node | null | undefined): SourcePos {
    return posOf(node, this.y);
  }
}

function fileList(dir: string, problems: ProblemList): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    problems.add(`cannot read infra directory: ${(e as Error).message}`, { file: dir, line: 1, col: 1 });
    return [];
  }
  return names
    .filter((n) => n.endsWith('.infra.yml') || n.endsWith('.infra.yaml'))
    .sort()
    .map((n) => join(dir, n));
}

function rel(file: string): string {
  const r = relative(process.cwd(), file);
  return r.startsWith('..') ? file : r;
}

export function loadConfig(dir: string, opts: LoadOptions): { root: ModuleConfig; problems: ProblemList } {
  const problems = new ProblemList();
  const root = loadModule(resolve(dir), '', opts, problems, []);
  if (root.files.length === 0 && problems.errors.length === 0)
    problems.add(
      `no *.infra.yml files in ${dir}`,
      { file: rel(resolve(dir)), line: 1, col: 1 },
      'pass the directory holding your infra configuration, or -chdir=DIR',
    );
  return { root, problems };
}

function loadModule(
  dir: string,
  prefix: string,
  opts: LoadOptions,
  problems: ProblemList,
  stack: string[],
): ModuleConfig {
  const mod: ModuleConfig = {
    dir,
    prefix,
    variables: new Map(),
    locals: new Map(),
    resources: new Map(),
    outputs: new Map(),
    modules: new Map(),
    files: fileList(dir, problems),
  };
  for (const file of mod.files) {
    const text = readFileSync(file, 'utf8');
    const y = loadYaml(text, rel(file));
    for (const p of y.problems) problems.add(p.message, p.pos, p.hint);
    if (y.problems.length > 0) continue;
    for (let i = 0; i < y.docs.length; i++) {
      const value = y.docs[i];
      const node = y.nodes[i] ?? null;
      if (value === null || value === undefined) continue;
      const d = new Doc(y, node);
      if (!isMap(node) || typeof value !== 'object' || Array.isArray(value)) {
        problems.add(
          'an infra file must be a mapping of sections (resources, variables, outputs, ...)',
          d.pos(node),
        );
        continue;
      }
      loadDoc(mod, value as Record<string, unknown>, d, opts, problems, stack);
    }
  }
  return mod;
}

function entries(v: unknown): [string, unknown][] {
  return v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v as Record<string, unknown>) : [];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function loadDoc(
  mod: ModuleConfig,
  doc: Record<string, unknown>,
  d: Doc,
  opts: LoadOptions,
  problems: ProblemList,
  stack: string[],
): void {
  for (const [key, value] of Object.entries(doc)) {
    const e = mapEntry(d.root, key);
    const kpos = d.pos(e?.key);
    if (!TOP_KEYS.includes(key)) {
      const s = didYouMean(key, TOP_KEYS);
      problems.add(
        `unknown section '${key}'`,
        kpos,
        s ? `did you mean '${s}'?` : `sections are ${TOP_KEYS.join(', ')}`,
      );
      continue;
    }
    if (value === null) continue;
    if (key !== 'backend' && !isObj(value)) {
      problems.add(`'${key}' must be a mapping`, d.pos(e?.value));
      continue;
    }
    const section = e?.value ?? null;
    switch (key) {
      case 'variables':
        for (const [name, spec] of entries(value)) loadVariable(mod, name, spec, section, d, problems);
        break;
      case 'locals':
        for (const [name, v] of entries(value)) {
          const le = mapEntry(section, name);
          if (mod.locals.has(name)) problems.add(`duplicate local '${name}'`, d.pos(le?.key));
          mod.locals.set(name, { value: v, pos: d.pos(le?.value ?? le?.key) });
        }
        break;
      case 'resources':
      case 'data':
        for (const [type, blocks] of entries(value)) {
          const te = mapEntry(section, type);
          loadResourceType(
            mod,
            key === 'data' ? 'data' : 'managed',
            type,
            blocks,
            te?.key,
            te?.value ?? null,
            d,
            opts,
            problems,
          );
        }
        break;
      case 'outputs':
        for (const [name, spec] of entries(value)) {
          const oe = mapEntry(section, name);
          const pos = d.pos(oe?.key);
          if (mod.outputs.has(name)) problems.add(`duplicate output '${name}'`, pos);
          if (!isObj(spec) || !('value' in spec)) {
            problems.add(`output '${name}' needs a 'value'`, pos, "write `NAME: {value: '{{ ... }}'}`");
            continue;
          }
          for (const k of Object.keys(spec))
            if (!['value', 'sensitive', 'description'].includes(k))
              problems.add(
                `unknown key '${k}' in output '${name}'`,
                d.pos(mapEntry(oe?.value, k)?.key),
                'outputs take value, sensitive, description',
              );
          const o: OutputConfig = {
            name,
            value: spec.value,
            sensitive: spec.sensitive === true,
            pos: d.pos(mapEntry(oe?.value, 'value')?.value ?? oe?.key),
          };
          if (typeof spec.description === 'string') o.description = spec.description;
          mod.outputs.set(name, o);
        }
        break;
      case 'modules':
        for (const [name, spec] of entries(value))
          loadModuleCall(mod, name, spec, mapEntry(section, name), d, opts, problems, stack);
        break;
      case 'backend':
        loadBackend(mod, value, e, d, problems);
        break;
    }
  }
}

function loadVariable(
  mod: ModuleConfig,
  name: string,
  spec: unknown,
  section: Node | null,
  d: Doc,
  problems: ProblemList,
): void {
  const ve = mapEntry(section, name);
  const pos = d.pos(ve?.key);
  if (mod.variables.has(name)) problems.add(`duplicate variable '${name}'`, pos);
  const s = isObj(spec) ? spec : spec === null ? {} : undefined;
  if (!s) {
    problems.add(
      `variable '${name}' must be a mapping (type, default, description, sensitive, validation)`,
      pos,
    );
    return;
  }
  for (const k of Object.keys(s))
    if (!VARIABLE_KEYS.includes(k)) {
      const m = didYouMean(k, VARIABLE_KEYS);
      problems.add(
        `unknown key '${k}' in variable '${name}'`,
        d.pos(mapEntry(ve?.value, k)?.key),
        m ? `did you mean '${m}'?` : undefined,
      );
    }
  const type = s.type === undefined ? 'any' : String(s.type);
  if (!VARIABLE_TYPES.includes(baseType(type)))
    problems.add(
      `variable '${name}': unknown type '${type}'`,
      d.pos(mapEntry(ve?.value, 'type')?.value),
      `types are ${VARIABLE_TYPES.join(', ')}`,
    );
  const v: VariableConfig = {
    name,
    type,
    hasDefault: 'default' in s,
    sensitive: s.sensitive === true,
    validation: [],
    pos,
  };
  if ('default' in s) {
    v.default = s.default;
    const err = typeError(type, s.default);
    if (err && s.default !== null)
      problems.add(`variable '${name}': default ${err}`, d.pos(mapEntry(ve?.value, 'default')?.value));
  }
  if (typeof s.description === 'string') v.description = s.description;
  const val = s.validation;
  const vnode = mapEntry(ve?.value, 'validation')?.value;
  const rules = Array.isArray(val) ? val : val === undefined ? [] : [val];
  rules.forEach((r, i) => {
    const rnode = Array.isArray(val) ? (vnode as { items?: Node[] } | undefined)?.items?.[i] : vnode;
    if (!isObj(r) || typeof r.condition !== 'string') {
      problems.add(
        `variable '${name}': each validation needs a 'condition' (an expression) and an 'error_message'`,
        d.pos(rnode ?? ve?.key),
      );
      return;
    }
    v.validation.push({
      condition: r.condition,
      errorMessage:
        typeof r.error_message === 'string' ? r.error_message : `invalid value for variable '${name}'`,
      pos: d.pos(mapEntry(rnode, 'condition')?.value ?? rnode),
    });
  });
  mod.variables.set(name, v);
}

/** `list(string)` -> `list`. */
export function baseType(t: string): string {
  const m = /^(\w+)\s*(\(.*\))?$/.exec(t.trim());
  return m ? m[1]! : t;
}

/** Why `v` does not fit type `t`, or undefined. */
export function typeError(t: string, v: unknown): string | undefined {
  const b = baseType(t);
  const what = Array.isArray(v)
    ? 'a list'
    : v === null
      ? 'null'
      : typeof v === 'object'
        ? 'a map'
        : `a ${typeof v === 'boolean' ? 'bool' : typeof v}`;
  switch (b) {
    case 'string':
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? undefined
        : `must be a string, not ${what}`;
    case 'number':
      return typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))
        ? undefined
        : `must be a number, not ${what}${typeof v === 'string' ? ` ("${v}")` : ''}`;
    case 'bool':
      return typeof v === 'boolean' || v === 'true' || v === 'false'
        ? undefined
        : `must be a bool, not ${what}`;
    case 'list':
      return Array.isArray(v) ? undefined : `must be a list, not ${what}`;
    case 'map':
      return isObj(v) ? undefined : `must be a map, not ${what}`;
    default:
      return undefined;
  }
}

/** Converts a value that passed typeError to its type (strings from -var become numbers/bools). */
export function convertType(t: string, v: unknown): unknown {
  const b = baseType(t);
  if (b === 'number' && typeof v === 'string') return Number(v);
  if (b === 'bool' && typeof v === 'string') return v === 'true';
  if (b === 'string' && typeof v === 'number') return String(v);
  return v;
}

function loadResourceType(
  mod: ModuleConfig,
  mode: 'managed' | 'data',
  type: string,
  blocks: unknown,
  typeNode: Node | undefined,
  blocksNode: Node | null,
  d: Doc,
  opts: LoadOptions,
  problems: ProblemList,
): void {
  const known = mode === 'data' ? opts.types.data : opts.types.managed;
  const rt = known.get(type);
  if (!rt) {
    const s = didYouMean(type, known.keys());
    problems.add(
      `unknown ${mode === 'data' ? 'data source' : 'resource'} type '${type}'`,
      d.pos(typeNode),
      s ? `did you mean '${s}'?` : `known types: ${[...known.keys()].sort().join(', ')}`,
    );
    return;
  }
  if (!isObj(blocks)) {
    problems.add(`'${type}' must map resource names to their attributes`, d.pos(blocksNode ?? typeNode));
    return;
  }
  for (const [name, body] of Object.entries(blocks)) {
    const be = mapEntry(blocksNode, name);
    const pos = d.pos(be?.key);
    const localKey = `${mode === 'data' ? 'data.' : ''}${type}.${name}`;
    if (!NAME.test(name)) problems.add(`invalid resource name '${name}': use letters, digits, _ and -`, pos);
    if (mod.resources.has(localKey)) {
      const first = mod.resources.get(localKey)!.pos;
      problems.add(
        `duplicate ${mode === 'data' ? 'data source' : 'resource'} '${localKey}' (first declared at ${first.file}:${first.line}:${first.col})`,
        pos,
      );
      continue;
    }
    const b = isObj(body) ? body : body === null ? {} : undefined;
    if (!b) {
      problems.add(`'${localKey}' must be a mapping of attributes`, d.pos(be?.value ?? be?.key));
      continue;
    }
    const attrPos: Record<string, SourcePos> = {};
    const attrs: Record<string, unknown> = {};
    const schema = rt.schema.attributes;
    for (const [k, v] of Object.entries(b)) {
      const ae = mapEntry(be?.value, k);
      attrPos[k] = d.pos(ae?.value ?? ae?.key);
      if (META_KEYS.includes(k)) continue;
      const a = schema[k];
      if (!a) {
        const s = didYouMean(k, [
          ...Object.keys(schema).filter((n) => schema[n]!.required || schema[n]!.optional),
          ...META_KEYS,
        ]);
        problems.add(
          `unknown attribute '${k}' in ${localKey}`,
          d.pos(ae?.key),
          s ? `did you mean '${s}'?` : `${type} takes ${argNames(rt).join(', ')}`,
        );
        continue;
      }
      if (!a.required && !a.optional) {
        problems.add(
          `attribute '${k}' of ${type} is computed by the provider and cannot be set`,
          d.pos(ae?.key),
        );
        continue;
      }
      if (!isTemplated(v)) {
        const err = attrTypeError(a.type, v);
        if (err) problems.add(`${localKey}: attribute '${k}' ${err}`, attrPos[k]);
      }
      attrs[k] = v;
    }
    for (const [k, a] of Object.entries(schema))
      if (a.required && !(k in b))
        problems.add(
          `${localKey}: missing required attribute '${k}'`,
          pos,
          a.description ? `${k}: ${a.description}` : undefined,
        );
    if ('count' in b && 'for_each' in b)
      problems.add(`${localKey}: count and for_each cannot both be set`, attrPos.for_each);
    if (
      'count' in b &&
      !isTemplated(b.count) &&
      !(typeof b.count === 'number' && Number.isInteger(b.count) && b.count >= 0)
    )
      problems.add(
        `${localKey}: invalid count ${JSON.stringify(b.count)}: must be a whole number >= 0`,
        attrPos.count,
      );
    if ('for_each' in b && !isTemplated(b.for_each) && !Array.isArray(b.for_each) && !isObj(b.for_each))
      problems.add(
        `${localKey}: for_each must be a map or a list of strings, not ${JSON.stringify(b.for_each)}`,
        attrPos.for_each,
      );
    if (Array.isArray(b.for_each) && b.for_each.some((x) => typeof x !== 'string'))
      problems.add(
        `${localKey}: for_each over a list needs strings (each.key is the string)`,
        attrPos.for_each,
      );
    const dependsOn: { ref: string; pos: SourcePos }[] = [];
    if ('depends_on' in b) {
      const dn = mapEntry(be?.value, 'depends_on')?.value as { items?: Node[] } | undefined;
      if (!Array.isArray(b.depends_on))
        problems.add(`${localKey}: depends_on must be a list of resource addresses`, attrPos.depends_on);
      else
        b.depends_on.forEach((r, i) => {
          dependsOn.push({ ref: String(r), pos: d.pos(dn?.items?.[i]) });
        });
    }
    const lifecycle: LifecycleConfig = {
      createBeforeDestroy: false,
      preventDestroy: false,
      ignoreChanges: [],
      replaceTriggeredBy: [],
    };
    if ('lifecycle' in b && b.lifecycle !== null) {
      const ln = mapEntry(be?.value, 'lifecycle')?.value;
      if (!isObj(b.lifecycle)) problems.add(`${localKey}: lifecycle must be a mapping`, attrPos.lifecycle);
      else {
        const l = b.lifecycle;
        for (const k of Object.keys(l))
          if (!LIFECYCLE_KEYS.includes(k)) {
            const s = didYouMean(k, LIFECYCLE_KEYS);
            problems.add(
              `unknown lifecycle key '${k}' in ${localKey}`,
              d.pos(mapEntry(ln, k)?.key),
              s ? `did you mean '${s}'?` : `lifecycle takes ${LIFECYCLE_KEYS.join(', ')}`,
            );
          }
        lifecycle.createBeforeDestroy = l.create_before_destroy === true;
        lifecycle.preventDestroy = l.prevent_destroy === true;
        if (l.ignore_changes === 'all') lifecycle.ignoreChanges = 'all';
        else if (Array.isArray(l.ignore_changes)) {
          lifecycle.ignoreChanges = l.ignore_changes.map(String);
          for (const a of lifecycle.ignoreChanges)
            if (!schema[a])
              problems.add(
                `${localKey}: ignore_changes names unknown attribute '${a}'`,
                d.pos(mapEntry(ln, 'ignore_changes')?.value),
                hintFor(a, Object.keys(schema)),
              );
        } else if (l.ignore_changes !== undefined)
          problems.add(
            `${localKey}: ignore_changes must be a list of attribute names or "all"`,
            d.pos(mapEntry(ln, 'ignore_changes')?.value),
          );
        if (Array.isArray(l.replace_triggered_by))
          lifecycle.replaceTriggeredBy = l.replace_triggered_by.map(String);
        else if (l.replace_triggered_by !== undefined)
          problems.add(
            `${localKey}: replace_triggered_by must be a list of resource addresses`,
            d.pos(mapEntry(ln, 'replace_triggered_by')?.value),
          );
      }
    }
    const rc: ResourceConfig = {
      mode,
      type,
      name,
      localKey,
      modulePrefix: mod.prefix,
      body: attrs,
      dependsOn,
      lifecycle,
      pos,
      attrPos,
    };
    if ('count' in b) rc.count = b.count;
    if ('for_each' in b) rc.forEach = b.for_each;
    if (rt.validate && !Object.values(attrs).some(isTemplated)) {
      for (const p of rt.validate(attrs as never))
        problems.add(`${localKey}: ${p.message}`, p.attribute ? (attrPos[p.attribute] ?? pos) : pos);
    }
    mod.resources.set(localKey, rc);
  }
}

function hintFor(name: string, candidates: string[]): string | undefined {
  const s = didYouMean(name, candidates);
  return s ? `did you mean '${s}'?` : undefined;
}

function argNames(rt: ResourceType): string[] {
  return Object.entries(rt.schema.attributes)
    .filter(([, a]) => a.required || a.optional)
    .map(([k]) => k);
}

export function isTemplated(v: unknown): boolean {
  if (typeof v === 'string') return /\{\{|\{%/.test(v);
  if (Array.isArray(v)) return v.some(isTemplated);
  if (isObj(v)) return Object.values(v).some(isTemplated);
  return false;
}

/** typeError for attribute values, where null means unset. */
export function attrTypeError(t: string, v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : typeError(t, v);
}

function loadModuleCall(
  mod: ModuleConfig,
  name: string,
  spec: unknown,
  e: { key: Node; value: Node | null } | undefined,
  d: Doc,
  opts: LoadOptions,
  problems: ProblemList,
  stack: string[],
): void {
  const pos = d.pos(e?.key);
  if (mod.modules.has(name)) problems.add(`duplicate module '${name}'`, pos);
  if (!isObj(spec) || typeof spec.source !== 'string') {
    problems.add(`module '${name}' needs a 'source' (a directory of *.infra.yml files)`, pos);
    return;
  }
  for (const k of Object.keys(spec))
    if (!['source', 'inputs'].includes(k))
      problems.add(
        `unknown key '${k}' in module '${name}'`,
        d.pos(mapEntry(e?.value, k)?.key),
        "modules take 'source' and 'inputs'",
      );
  const src = resolve(mod.dir, spec.source);
  const spos = d.pos(mapEntry(e?.value, 'source')?.value);
  if (!existsSync(src) || !statSync(src).isDirectory()) {
    problems.add(`module '${name}': source directory ${spec.source} not found`, spos);
    return;
  }
  if (stack.includes(src)) {
    problems.add(
      `module '${name}': ${spec.source} includes itself (${[...stack, src].map((s) => basename(s)).join(' -> ')})`,
      spos,
    );
    return;
  }
  const child = loadModule(src, `${mod.prefix}module.${name}.`, opts, problems, [...stack, mod.dir]);
  const inputs = isObj(spec.inputs) ? spec.inputs : {};
  const inode = mapEntry(e?.value, 'inputs')?.value;
  const inputPos: Record<string, SourcePos> = {};
  for (const k of Object.keys(inputs)) {
    inputPos[k] = d.pos(mapEntry(inode, k)?.value ?? mapEntry(inode, k)?.key);
    if (!child.variables.has(k))
      problems.add(
        `module '${name}' has no input variable '${k}'`,
        d.pos(mapEntry(inode, k)?.key),
        hintFor(k, [...child.variables.keys()]),
      );
  }
  for (const v of child.variables.values())
    if (!v.hasDefault && !(v.name in inputs))
      problems.add(
        `module '${name}': missing input '${v.name}' (the module's variable has no default)`,
        pos,
        `declared at ${v.pos.file}:${v.pos.line}:${v.pos.col}`,
      );
  mod.modules.set(name, { name, source: spec.source, inputs, inputPos, pos, module: child });
}

function loadBackend(
  mod: ModuleConfig,
  value: unknown,
  e: { key: Node; value: Node | null } | undefined,
  d: Doc,
  problems: ProblemList,
): void {
  const pos = d.pos(e?.key);
  if (mod.prefix) {
    problems.add('a backend can only be configured in the root module', pos);
    return;
  }
  if (!isObj(value) || Object.keys(value).length !== 1) {
    problems.add("backend must name one kind: 'local: {path: ...}' or 'pg: {conn_str: ...}'", pos);
    return;
  }
  const [kind, options] = Object.entries(value)[0]!;
  if (kind !== 'local' && kind !== 'pg') {
    problems.add(
      `unknown backend '${kind}'`,
      d.pos(mapEntry(e?.value, kind)?.key),
      hintFor(kind, ['local', 'pg']) ?? "backends are 'local' and 'pg'",
    );
    return;
  }
  const allowed = kind === 'local' ? ['path'] : ['conn_str', 'schema_name', 'skip_schema_creation'];
  const o = isObj(options) ? options : {};
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      problems.add(
        `unknown option '${k}' of the ${kind} backend`,
        d.pos(mapEntry(mapEntry(e?.value, kind)?.value, k)?.key),
        hintFor(k, allowed) ?? `options: ${allowed.join(', ')}`,
      );
  if (mod.backend) problems.add('backend is configured twice', pos);
  mod.backend = { kind, options: o, pos };
}

/** Every module of the tree, root first. */
export function allModules(root: ModuleConfig): ModuleConfig[] {
  const out: ModuleConfig[] = [root];
  for (const c of root.modules.values()) out.push(...allModules(c.module));
  return out;
}
