/**
 * Loads a playbook (with its imports and roles) into the typed tree of types.ts and
 * validates it in the same pass: every problem is collected with file:line:col and thrown
 * once as a ValidationError, before any host is contacted.
 *
 * Static constructs (import_playbook, import_tasks, import_role, roles:) are expanded here;
 * dynamic ones (include_tasks, include_role, include_vars) stay TaskNodes and the runner
 * calls loadTasksFile / loadRole for them at run time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import YAML, { LineCounter } from 'yaml';
import { argNames, isTemplated, toBool, validateArgs } from '../../modules/args.js';
import {
  didYouMean,
  MissingFileError,
  type Problem,
  ProblemList,
  type SourcePos,
  ValidationError,
} from '../errors.js';
import { type LoadedYaml, loadYaml, posOf, UnsafeString, VaultString } from '../yaml/load.js';
import { META_ACTIONS } from './actions.js';
import { conditionalSyntaxError, templateSyntaxError, unknownFilterOrTest } from './expression.js';
import {
  BLOCK_KEYWORDS,
  HANDLER_KEYWORDS,
  IMPORT_PLAYBOOK_KEYWORDS,
  INHERITED_SCALARS,
  PLAY_KEYWORDS,
  ROLE_KEYWORDS,
  TASK_KEYWORDS,
  WITH_LOOKUPS,
} from './keywords.js';
import { unknownNotifies } from './notify.js';
import { findRoleDir, roleMainFile } from './role-path.js';
import { child, duplicateKeys, isRecord, items, keyPos, type Src, srcPos, typeName } from './source.js';
import {
  ActionShapeError,
  knownActionNames,
  newStyleArgs,
  oldStyleArgs,
  resolveAction,
} from './task-action.js';
import type {
  BlockNode,
  InheritableKeywords,
  Play,
  Playbook,
  PlayNode,
  RoleInstance,
  TaskNode,
  TaskOrigin,
  VarsPrompt,
} from './types.js';

export interface LoadOptions {
  /** roles_path (ansible.cfg / ANSIBLE_ROLES_PATH); Ansible's defaults when absent. */
  rolesPath?: string[];
  /** Decrypt an inline `!vault` value. */
  decryptVault?: (ciphertext: string, where: string) => string;
  /** Decrypt a whole vault-encrypted file (vars files); without it such files are a problem. */
  decryptFile?: (text: string, file: string) => string;
  /** playbook_dir; defaults to the directory of the playbook (or tasks file) loaded. */
  playbookDir?: string;
  /** Variables known before the run (extra vars), used to resolve templated import names. */
  extraVars?: Record<string, unknown>;
  /** Receives each warning (duplicate keys, unknown notify names, ...) of a load that succeeds. */
  onWarning?: (p: Problem) => void;
}

export const DEFAULT_ROLES_PATH = [
  join(homedir(), '.ansible/roles'),
  '/usr/share/ansible/roles',
  '/etc/ansible/roles',
];

/** The inheritance context a node is loaded in. */
interface Scope {
  when: unknown[];
  tags: string[];
  keywords: InheritableKeywords;
  notify?: string[];
  origin: TaskOrigin;
  handler: boolean;
  /** Files being imported, outermost first (cycle detection). */
  chain: string[];
  /** Role directories being loaded, outermost first (cycle detection). */
  roleChain: string[];
  /** module_defaults in scope: required-argument checks wait for run time. */
  moduleDefaults: boolean;
  /** Where the handlers of statically imported roles go (the play's handlers). */
  handlerSink: PlayNode[] | undefined;
  /** Variables known at load time (play vars, extra vars) for templated import names. */
  staticVars: Record<string, unknown>;
}

interface OwnKeywords {
  when: unknown[];
  tags: string[];
  keywords: InheritableKeywords;
}

const PYTHON_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' ',
  ),
);

/** Ansible's isidentifier(): a Python identifier that is not a keyword. */
function isVariableName(name: string): boolean {
  return /^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) && !PYTHON_KEYWORDS.has(name);
}

/** Keywords Ansible declares isa='bool' / isa='int' (FieldAttribute), checked when literal. */
const BOOL_FIELDS: ReadonlySet<string> = new Set([
  'any_errors_fatal',
  'become',
  'check_mode',
  'delegate_facts',
  'diff',
  'force_handlers',
  'gather_facts',
  'ignore_errors',
  'ignore_unreachable',
  'no_log',
  'run_once',
]);
const INT_FIELDS: ReadonlySet<string> = new Set([
  'async',
  'poll',
  'retries',
  'delay',
  'throttle',
  'timeout',
  'port',
  'gather_timeout',
]);

function uniq(list: string[]): string[] {
  return [...new Set(list)];
}

export class PlaybookLoader {
  readonly problems = new ProblemList();
  private readonly yamlCache = new Map<string, LoadedYaml | null>();
  private readonly multiDocReported = new Set<string>();
  private readonly texts = new Map<string, string>();
  private nextId = 0;
  readonly rolesPath: string[];

  constructor(
    readonly opts: LoadOptions,
    readonly playbookDir: string,
  ) {
    this.rolesPath = opts.rolesPath ?? DEFAULT_ROLES_PATH;
    this.baseDir = playbookDir;
  }

  /**
   * Where roles/ and relative task files are looked up: the directory of the file holding
   * the play being loaded (Ansible's loader basedir, which import_playbook moves).
   */
  private baseDir: string;

  /** Prefix of this loader's node ids: '' for a playbook, unique for each run-time load. */
  idPrefix = '';

  private id(prefix: string): string {
    this.nextId += 1;
    return `${this.idPrefix}${prefix}${this.nextId}`;
  }

  private add(message: string, pos: SourcePos | undefined, hint?: string): void {
    this.problems.add(message, pos, hint);
  }

  /** copy/template sources missing on the controller, decided once the whole playbook is read. */
  private readonly missingControllerFiles: { message: string; pos: SourcePos; hint: string }[] = [];
  /**
   * Some task may write files on the controller (fetch, a task delegated to or running on
   * localhost, a templated delegate_to): a source missing now may exist when its task runs.
   */
  private controllerMayWrite = false;

  private noteControllerWriter(action: string, keywords: Record<string, unknown>): void {
    const d = keywords.delegate_to;
    const local = (v: unknown): boolean =>
      typeof v === 'string' && (isTemplated(v) || ['localhost', '127.0.0.1', '::1'].includes(v.trim()));
    if (action === 'fetch' || local(d) || keywords.connection === 'local') this.controllerMayWrite = true;
  }

  /**
   * A missing copy/template source fails its task for sure unless an earlier task can make it:
   * an error when nothing in the playbook writes on the controller, a warning otherwise.
   * Called once the whole playbook (imports and roles included) is loaded.
   */
  reportMissingControllerFiles(): void {
    for (const m of this.missingControllerFiles) {
      if (this.controllerMayWrite) {
        this.problems.warn(`${m.message}; the task fails unless an earlier task creates it`, m.pos);
      } else this.add(m.message, m.pos, m.hint);
    }
    this.missingControllerFiles.length = 0;
  }

  // ---------------------------------------------------------------- files

  /** Parse a YAML file once; problems (missing file, bad YAML) are reported once. */
  readYaml(file: string, from?: SourcePos): LoadedYaml | undefined {
    const cached = this.yamlCache.get(file);
    if (cached !== undefined) return cached ?? undefined;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      this.add(
        code === 'ENOENT' ? `could not find '${file}'` : `could not read '${file}': ${(e as Error).message}`,
        from,
      );
      this.yamlCache.set(file, null);
      return undefined;
    }
    if (text.startsWith('$ANSIBLE_VAULT;')) {
      if (!this.opts.decryptFile) {
        this.add(
          `'${file}' is vault-encrypted and no vault secret was given`,
          from,
          'pass --vault-password-file or --ask-vault-pass',
        );
        this.yamlCache.set(file, null);
        return undefined;
      }
      try {
        text = this.opts.decryptFile(text, file);
      } catch (e) {
        this.add(`could not decrypt '${file}': ${(e as Error).message}`, from);
        this.yamlCache.set(file, null);
        return undefined;
      }
    }
    const yamlOpts = this.opts.decryptVault ? { decryptVault: this.opts.decryptVault } : {};
    let y: LoadedYaml;
    try {
      y = loadYaml(text, file, yamlOpts);
    } catch (e) {
      this.add(`could not load '${file}': ${(e as Error).message}`, from ?? { file, line: 1, col: 1 });
      this.yamlCache.set(file, null);
      return undefined;
    }
    // The first syntax error is the real one; the parser's later ones are its consequences.
    const first = y.problems[0];
    if (first) this.problems.items.push(this.yamlHint(this.yamlPosition(first, text, file), text));
    this.yamlCache.set(file, y);
    this.texts.set(file, text);
    return y;
  }

  /**
   * src/yaml/load.ts leaves syntax errors at 1:1 (the yaml library computes linePos only
   * with prettyErrors); recompute the position from the error's offset.
   */
  private yamlPosition(p: Problem, text: string, file: string): Problem {
    if (p.pos?.line !== 1 || p.pos.col !== 1) return p;
    const lc = new LineCounter();
    const docs = YAML.parseAllDocuments(text, {
      lineCounter: lc,
      version: '1.1',
      uniqueKeys: false,
      prettyErrors: false,
    });
    const err = (Array.isArray(docs) ? docs : [docs]).flatMap((d) => d.errors)[0];
    if (!err) return p;
    const at = lc.linePos(err.pos[0]);
    return { ...p, pos: { file, line: at.line, col: at.col } };
  }

  /** YAML errors caused by tabs or bad indentation get a hint about what to fix. */
  private yamlHint(p: Problem, text: string): Problem {
    if (p.hint || !p.pos) return p;
    const line = text.split('\n')[p.pos.line - 1] ?? '';
    const prev = text.split('\n')[p.pos.line - 2] ?? '';
    if (/^\s*\t/.test(line) || /^\s*\t/.test(prev) || /\t/.test(line.slice(0, p.pos.col))) {
      return { ...p, hint: 'YAML does not allow tabs for indentation; indent with spaces' };
    }
    if (/indent|mapping|sequence|Implicit keys|Nested mappings/i.test(p.message)) {
      return { ...p, hint: 'check the indentation of this line against the lines above it' };
    }
    if (/quote|unterminated|Missing closing/i.test(p.message)) {
      return { ...p, hint: 'close the quoted string, or quote the whole value' };
    }
    return p;
  }

  /** The first document of a YAML file as a Src, or undefined when unreadable. */
  private doc(file: string, from?: SourcePos): Src | undefined {
    const y = this.readYaml(file, from);
    if (!y) return undefined;
    if (y.problems.length > 0) return undefined;
    if (y.docs.length > 1 && !this.multiDocReported.has(file)) {
      // PyYAML's single-document load refuses a second document; so does Ansible.
      this.multiDocReported.add(file);
      const second = y.nodes[1];
      const at = second ? posOf(second, y) : { file, line: 1, col: 1 };
      // Point at the '---' that starts the second document, as Ansible does.
      const lines = (this.texts.get(file) ?? '').split('\n');
      let marker = at.line;
      while (marker > 1 && !lines[marker - 1]?.startsWith('---')) marker--;
      this.add(
        `expected a single document in the stream, found ${y.docs.length} ('---' starts a new one)`,
        lines[marker - 1]?.startsWith('---') ? { file, line: marker, col: 1 } : at,
        "remove the extra '---' line, or move the second document to its own file",
      );
    }
    return { v: y.docs[0] ?? null, n: y.nodes[0] ?? undefined, y, fb: { file, line: 1, col: 1 } };
  }

  /** A vars file: a mapping (or empty). */
  loadVarsFile(file: string, from?: SourcePos): Record<string, unknown> {
    const d = this.doc(file, from);
    if (!d) return {};
    if (d.v === null || d.v === undefined) return {};
    if (!isRecord(d.v)) {
      this.add(`vars file '${file}' must hold a mapping of variables, got a ${typeName(d.v)}`, srcPos(d));
      return {};
    }
    return d.v;
  }

  // ---------------------------------------------------------------- small value checks

  private warnDuplicates(s: Src, what: string): void {
    for (const d of duplicateKeys(s)) {
      this.problems.warn(`duplicate key '${d.key}' in ${what}: the last one wins`, d.pos);
    }
  }

  private tagList(s: Src): string[] {
    const v = s.v;
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') {
      return v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    }
    if (typeof v === 'number') return [String(v)];
    if (Array.isArray(v)) {
      const out: string[] = [];
      for (const it of items(s)) {
        if (typeof it.v === 'string' || typeof it.v === 'number') out.push(String(it.v));
        else this.add(`tags must be strings, got a ${typeName(it.v)}`, srcPos(it));
      }
      return out;
    }
    this.add(`'tags' must be a string or a list of strings, got a ${typeName(v)}`, srcPos(s));
    return [];
  }

  private conditionList(s: Src, key: string): unknown[] {
    const v = s.v;
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? items(s) : [s];
    const out: unknown[] = [];
    for (const it of list) {
      if (typeof it.v === 'boolean' || typeof it.v === 'number') {
        out.push(it.v);
        continue;
      }
      if (typeof it.v !== 'string') {
        this.add(
          `'${key}' must be a string (a Jinja expression), a boolean or a list of them, got a ${typeName(it.v)}`,
          srcPos(it),
        );
        continue;
      }
      const err = conditionalSyntaxError(it.v);
      if (err) {
        this.add(
          `template error in '${key}: ${it.v}': ${err}`,
          srcPos(it),
          'a conditional is a bare Jinja expression, e.g. `x is defined and x | int > 1`',
        );
      } else this.checkNames(it.v, srcPos(it), key, !(it.v.includes('{{') || it.v.includes('{%')));
      out.push(it.v);
    }
    return out;
  }

  private stringList(s: Src, key: string): string[] | undefined {
    const v = s.v;
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) {
      const out: string[] = [];
      for (const it of items(s)) {
        if (typeof it.v === 'string') out.push(it.v);
        else this.add(`'${key}' entries must be strings, got a ${typeName(it.v)}`, srcPos(it));
      }
      return out;
    }
    this.add(`'${key}' must be a string or a list of strings, got a ${typeName(v)}`, srcPos(s));
    return undefined;
  }

  private varsValue(s: Src, what: string): Record<string, unknown> | undefined {
    const v = s.v;
    if (v === undefined || v === null) return undefined;
    let out: Record<string, unknown> | undefined;
    if (isRecord(v)) out = v;
    else if (Array.isArray(v) && v.every(isRecord)) out = Object.assign({}, ...v);
    if (!out) {
      this.add(`vars in a ${what} must be specified as a dictionary, got a ${typeName(v)}`, srcPos(s));
      return undefined;
    }
    for (const name of Object.keys(out)) {
      if (!isVariableName(name)) {
        this.add(
          `Invalid variable name in vars specified for ${what}: '${name}' is not a valid variable name`,
          isRecord(v) ? keyPos(s, name) : srcPos(s),
          'variable names are letters, digits and underscores, not starting with a digit',
        );
      }
    }
    return out;
  }

  private checkTemplates(s: Src, key: string): void {
    const err = templateSyntaxError(s.v);
    if (err) this.add(`template error in '${key}': ${err}`, srcPos(s));
    else if (typeof s.v === 'string') this.checkNames(s.v, srcPos(s), key, false);
  }

  /**
   * Filters and tests the engine does not have: a near miss of a known name is a typo (an
   * error, with the name it meant); any other name may come from a collection drover lacks
   * (a warning: the task fails only if it runs).
   */
  private checkNames(text: string, pos: SourcePos, key: string, bare: boolean): void {
    for (const u of unknownFilterOrTest(text, bare)) {
      if (u.guess) {
        this.add(
          `template error in '${key}': no ${u.kind} named '${u.name}'`,
          pos,
          `did you mean '${u.guess}'?`,
        );
      } else {
        this.problems.warn(
          `'${key}' uses the ${u.kind} '${u.name}', which drover does not have: the task fails if it runs`,
          pos,
        );
      }
    }
  }

  /**
   * A literal, relative `src` of copy/template that is nowhere in the search path (the
   * role's files/ or templates/, the task file's dir, the playbook dir) fails for sure:
   * report it before any host is contacted. Templated and absolute paths are left to run time.
   */
  private checkControllerFile(
    action: string,
    args: Record<string, unknown>,
    argsSrc: Src,
    scope: Scope,
  ): void {
    const kind = action === 'template' ? 'templates' : action === 'copy' ? 'files' : undefined;
    const src = args.src;
    if (!kind || typeof src !== 'string' || src === '' || isTemplated(src) || isAbsolute(src)) return;
    if (
      action === 'copy' &&
      args.remote_src !== undefined &&
      args.remote_src !== false &&
      args.remote_src !== 'no'
    )
      return;
    const dirs = [...(scope.origin.role ? [scope.origin.role.path] : []), scope.origin.baseDir, this.baseDir];
    const candidates = [...new Set(dirs)].flatMap((d) => [join(d, kind, src), join(d, src)]);
    if (candidates.some((c) => existsSync(c))) return;
    this.missingControllerFiles.push({
      message: `${action}: could not find or access '${src}' on the controller`,
      pos: srcPos(child(argsSrc, 'src')),
      hint: `looked in: ${candidates.join(', ')}`,
    });
  }

  /** Every templated string in module arguments, checked for unknown filters and tests. */
  private checkArgNames(v: unknown, pos: SourcePos, key: string): void {
    if (typeof v === 'string') this.checkNames(v, pos, key, false);
    else if (Array.isArray(v)) for (const x of v) this.checkArgNames(x, pos, key);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) this.checkArgNames(x, pos, `${key}.${k}`);
  }

  /** Keywords every level shares: when, tags and the inherited ones. */
  /** Booleans and integers among the keywords: a literal that cannot convert is a problem. */
  private checkFieldTypes(s: Src): void {
    const obj = s.v as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || v === null || isTemplated(v)) continue;
      if (BOOL_FIELDS.has(k) && toBool(v) === undefined) {
        this.add(
          `the field '${k}' has an invalid value (${JSON.stringify(v)}), and could not be converted to a bool`,
          srcPos(child(s, k)),
          'use true or false (yes/no also work)',
        );
      } else if (
        INT_FIELDS.has(k) &&
        !(typeof v === 'number' || (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)))
      ) {
        this.add(
          `the field '${k}' has an invalid value (${JSON.stringify(v)}), and could not be converted to an int`,
          srcPos(child(s, k)),
        );
      }
    }
  }

  private ownKeywords(s: Src, what: string): OwnKeywords {
    const obj = s.v as Record<string, unknown>;
    this.checkFieldTypes(s);
    const keywords: InheritableKeywords = {};
    for (const k of INHERITED_SCALARS) {
      if (obj[k] !== undefined) {
        (keywords as Record<string, unknown>)[k] = obj[k];
        this.checkTemplates(child(s, k), k);
      }
    }
    if (obj.environment !== undefined && obj.environment !== null) {
      const env = obj.environment;
      if (!isRecord(env) && !isTemplated(env) && !(Array.isArray(env) && env.every(isRecord))) {
        this.add(
          `'environment' must be a mapping of variable names to values, got a ${typeName(env)}`,
          srcPos(child(s, 'environment')),
        );
      } else {
        keywords.environment = Array.isArray(env) ? env : [env];
      }
    }
    if (obj.module_defaults !== undefined && obj.module_defaults !== null) {
      const md = obj.module_defaults;
      if (!isRecord(md) && !Array.isArray(md) && !isTemplated(md)) {
        this.add(
          `'module_defaults' must be a mapping of module names to arguments, got a ${typeName(md)}`,
          srcPos(child(s, 'module_defaults')),
        );
      } else {
        keywords.module_defaults = Array.isArray(md) ? md : [md];
      }
    }
    if (obj.collections !== undefined) {
      const c = this.stringList(child(s, 'collections'), 'collections');
      if (c) keywords.collections = c;
    }
    const vars = this.varsValue(child(s, 'vars'), what);
    if (vars) keywords.vars = vars;
    return {
      when: 'when' in obj ? this.conditionList(child(s, 'when'), 'when') : [],
      tags: this.tagList(child(s, 'tags')),
      keywords,
    };
  }

  private mergeKeywords(outer: InheritableKeywords, inner: InheritableKeywords): InheritableKeywords {
    const out: InheritableKeywords = { ...outer };
    for (const k of INHERITED_SCALARS) {
      if (inner[k] !== undefined) (out as Record<string, unknown>)[k] = inner[k];
    }
    if (inner.environment) out.environment = [...(outer.environment ?? []), ...inner.environment];
    if (inner.module_defaults)
      out.module_defaults = [...(outer.module_defaults ?? []), ...inner.module_defaults];
    if (inner.collections) out.collections = inner.collections;
    if (inner.vars) out.vars = { ...(outer.vars ?? {}), ...inner.vars };
    return out;
  }

  private childScope(scope: Scope, own: OwnKeywords, extra: Partial<Scope> = {}): Scope {
    const keywords = this.mergeKeywords(scope.keywords, own.keywords);
    return {
      ...scope,
      when: [...scope.when, ...own.when],
      tags: uniq([...scope.tags, ...own.tags]),
      keywords,
      moduleDefaults: scope.moduleDefaults || own.keywords.module_defaults !== undefined,
      staticVars: { ...scope.staticVars, ...(own.keywords.vars ?? {}) },
      ...extra,
    };
  }

  /** Files of an import chain, relative to the playbook directory when under it. */
  private chainText(files: string[]): string {
    return files
      .map((f) => (f.startsWith(`${this.playbookDir}/`) ? f.slice(this.playbookDir.length + 1) : f))
      .join(' -> ');
  }

  private unknownKeyword(key: string, where: SourcePos, what: string, allowed: Iterable<string>): void {
    const guess = didYouMean(key, allowed);
    this.add(
      `'${key}' is not a valid attribute for a ${what}`,
      where,
      guess ? `did you mean '${guess}'?` : undefined,
    );
  }

  /**
   * A `{{ var }}` in an import's file or role name, resolved from variables known at load
   * time (play vars, extra vars), as Ansible does for static imports.
   */
  private staticTemplate(text: string, scope: Scope, pos: SourcePos, what: string): string | undefined {
    if (!isTemplated(text)) return text;
    let ok = true;
    const out = text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, name: string) => {
      const v = scope.staticVars[name];
      if (typeof v === 'string' && !isTemplated(v)) return v;
      if (typeof v === 'number') return String(v);
      ok = false;
      return _m;
    });
    if (ok && !isTemplated(out)) return out;
    this.add(
      `${what} '${text}' cannot be resolved when the playbook is loaded`,
      pos,
      `static imports are resolved before any host is contacted: use play vars or extra vars in the name, or use the include_* form`,
    );
    return undefined;
  }

  // ---------------------------------------------------------------- playbooks

  loadPlaybookFile(file: string, from: SourcePos | undefined, chain: string[]): Play[] {
    const d = this.doc(file, from);
    if (!d) return [];
    if (d.v === null || d.v === undefined) {
      this.add('Empty playbook, nothing to do', srcPos(d));
      return [];
    }
    if (!Array.isArray(d.v)) {
      this.add(
        `A playbook must be a list of plays, got a ${typeName(d.v)} instead`,
        srcPos(d),
        'start each play with "- hosts: ..."',
      );
      return [];
    }
    const plays: Play[] = [];
    for (const entry of items(d)) {
      if (!isRecord(entry.v)) {
        this.add(
          `playbook entries must be either valid plays or 'import_playbook' statements, got a ${typeName(entry.v)}`,
          srcPos(entry),
        );
        continue;
      }
      const importKey = ['import_playbook', 'ansible.builtin.import_playbook', 'include'].find(
        (k) => k in (entry.v as Record<string, unknown>),
      );
      if (importKey && !('hosts' in entry.v))
        plays.push(...this.importPlaybook(entry, importKey, file, chain));
      else {
        const play = this.loadPlay(entry, file);
        if (play) plays.push(play);
      }
    }
    return plays;
  }

  private importPlaybook(s: Src, key: string, file: string, chain: string[]): Play[] {
    const obj = s.v as Record<string, unknown>;
    this.warnDuplicates(s, 'an import_playbook');
    for (const k of Object.keys(obj)) {
      if (k === key || IMPORT_PLAYBOOK_KEYWORDS.has(k)) continue;
      this.unknownKeyword(k, keyPos(s, k), 'PlaybookInclude', IMPORT_PLAYBOOK_KEYWORDS);
    }
    const target = child(s, key);
    if (typeof target.v !== 'string' || target.v.trim() === '') {
      this.add(`'${key}' needs the path of a playbook file, got a ${typeName(target.v)}`, srcPos(target));
      return [];
    }
    const own = this.ownKeywords(s, 'PlaybookInclude');
    const scope = this.emptyScope(dirname(file), [], {
      ...(this.opts.extraVars ?? {}),
      ...(own.keywords.vars ?? {}),
    });
    const name = this.staticTemplate(target.v.trim(), scope, srcPos(target), 'import_playbook file');
    if (name === undefined) return [];
    const path = resolve(dirname(file), name);
    if (!existsSync(path)) {
      this.add(`could not find the imported playbook '${name}' (looked for ${path})`, srcPos(target));
      return [];
    }
    const cycle = [...chain, file];
    if (cycle.includes(path)) {
      this.add(`circular import_playbook: ${this.chainText([...cycle, path])}`, srcPos(target));
      return [];
    }
    const plays = this.loadPlaybookFile(path, srcPos(target), cycle);
    for (const p of plays) {
      // Import vars win over the play's own (Ansible: entry.vars | new_obj.vars).
      if (own.keywords.vars) p.keywords.vars = { ...(p.keywords.vars ?? {}), ...own.keywords.vars };
      p.tags = uniq([...p.tags, ...own.tags]);
      if (own.tags.length > 0 || own.when.length > 0) {
        const add = (nodes: PlayNode[]) => {
          for (const n of nodes) this.prependInherited(n, own.when, own.tags);
        };
        add(p.pre_tasks);
        add(p.tasks);
        add(p.post_tasks);
        for (const r of p.roles) this.prependRole(r, own.when, own.tags);
        if (own.tags.length > 0) for (const h of p.handlers) this.prependInherited(h, [], own.tags);
      }
      for (const k of INHERITED_SCALARS) {
        if (own.keywords[k] !== undefined && p.keywords[k] === undefined) {
          (p.keywords as Record<string, unknown>)[k] = own.keywords[k];
        }
      }
    }
    return plays;
  }

  private prependInherited(n: PlayNode, when: unknown[], tags: string[]): void {
    n.when = [...when, ...n.when];
    n.tags = uniq([...n.tags, ...tags]);
    if (n.kind === 'block')
      for (const c of [...n.block, ...n.rescue, ...n.always]) this.prependInherited(c, when, tags);
  }

  private prependRole(r: RoleInstance, when: unknown[], tags: string[]): void {
    for (const d of r.dependencies) this.prependRole(d, when, tags);
    for (const t of r.tasks) this.prependInherited(t, when, tags);
  }

  private emptyScope(baseDir: string, chain: string[], staticVars: Record<string, unknown>): Scope {
    return {
      when: [],
      tags: [],
      keywords: {},
      origin: { baseDir },
      handler: false,
      chain,
      roleChain: [],
      moduleDefaults: false,
      handlerSink: undefined,
      staticVars,
    };
  }

  loadPlay(s: Src, file: string): Play | undefined {
    const obj = s.v as Record<string, unknown>;
    const pos = srcPos(s);
    const taskKey = Object.keys(obj).find((k) => !PLAY_KEYWORDS.has(k) && resolveAction(k) !== undefined);
    if (!('hosts' in obj) && taskKey !== undefined) {
      // A tasks file run as a playbook: one clear problem instead of one per task keyword.
      this.add(
        `this playbook entry is a task ('${taskKey}'), not a play`,
        pos,
        'a playbook is a list of plays ("- hosts: ..." with the tasks under "tasks:"); to reuse a tasks file, use import_tasks or include_tasks from a play',
      );
      return undefined;
    }
    this.warnDuplicates(s, 'a play');
    for (const k of Object.keys(obj)) {
      if (PLAY_KEYWORDS.has(k)) continue;
      const guess = didYouMean(k, PLAY_KEYWORDS);
      const looksLikeTask = resolveAction(k) !== undefined;
      this.add(
        `'${k}' is not a valid attribute for a Play`,
        keyPos(s, k),
        guess
          ? `did you mean '${guess}'?`
          : looksLikeTask
            ? `'${k}' is a module: tasks go in a list under 'tasks:'`
            : undefined,
      );
    }
    if (!('hosts' in obj) || obj.hosts === null || obj.hosts === undefined) {
      this.add(
        "the field 'hosts' is required but was not set",
        pos,
        'add "hosts: <pattern>" (e.g. all, a group name) to the play',
      );
    } else {
      const h = obj.hosts;
      const ok =
        (typeof h === 'string' && h.trim() !== '') ||
        (Array.isArray(h) && h.length > 0 && h.every((x) => typeof x === 'string' || typeof x === 'number'));
      if (!ok) {
        this.add(
          typeof h === 'string' || Array.isArray(h)
            ? 'Hosts list cannot be empty. Please check your playbook'
            : `'hosts' must be a host pattern string or a list of them, got a ${typeName(h)}`,
          srcPos(child(s, 'hosts')),
        );
      }
    }
    const baseDir = dirname(file);
    this.baseDir = baseDir;
    const own = this.ownKeywords(s, 'Play');
    const hostsList = Array.isArray(obj.hosts) ? obj.hosts : String(obj.hosts ?? '').split(/[,:]/);
    if (hostsList.some((h) => ['localhost', '127.0.0.1'].includes(String(h).trim())))
      this.controllerMayWrite = true;
    this.noteControllerWriter('', own.keywords as Record<string, unknown>);
    const handlers: PlayNode[] = [];
    const staticVars = { ...(own.keywords.vars ?? {}), ...(this.opts.extraVars ?? {}) };
    const scope: Scope = {
      ...this.emptyScope(baseDir, [file], staticVars),
      tags: own.tags,
      moduleDefaults: own.keywords.module_defaults !== undefined,
      handlerSink: handlers,
    };
    const play: Play = {
      kind: 'play',
      id: this.id('p'),
      hosts: obj.hosts,
      gather_facts: obj.gather_facts,
      vars_files: this.varsFiles(child(s, 'vars_files'), baseDir),
      vars_prompt: this.varsPrompt(child(s, 'vars_prompt')),
      roles: [],
      pre_tasks: [],
      tasks: [],
      post_tasks: [],
      handlers,
      tags: own.tags,
      keywords: own.keywords,
      baseDir,
      file,
      pos,
    };
    if (this.playbookDir !== baseDir) play.playbookDir = this.playbookDir;
    if (obj.name !== undefined && obj.name !== null) play.name = String(obj.name);
    for (const k of [
      'gather_subset',
      'strategy',
      'serial',
      'max_fail_percentage',
      'order',
      'force_handlers',
    ] as const) {
      if (obj[k] !== undefined) play[k] = obj[k];
    }
    for (const k of ['gather_timeout', 'fact_path'] as const) if (obj[k] !== undefined) play[k] = obj[k];
    this.checkPlayRunKeywords(s);
    if (typeof obj.order === 'string') {
      const orders = ['inventory', 'reverse_inventory', 'sorted', 'reverse_sorted', 'shuffle'];
      if (!orders.includes(obj.order) && !isTemplated(obj.order)) {
        this.add(
          `'order' must be one of ${orders.join(', ')}, got '${obj.order}'`,
          srcPos(child(s, 'order')),
        );
      }
    }
    play.roles = this.rolesSection(child(s, 'roles'), scope);
    play.pre_tasks = this.taskList(child(s, 'pre_tasks'), scope, 'pre_tasks');
    play.tasks = this.taskList(child(s, 'tasks'), scope, 'tasks');
    play.post_tasks = this.taskList(child(s, 'post_tasks'), scope, 'post_tasks');
    const own_handlers = this.taskList(child(s, 'handlers'), { ...scope, handler: true }, 'handlers');
    // play.handlers holds the play's own handlers plus those of statically imported roles
    // (import_role, added to the sink above); handlers of the `roles:` section stay on
    // their RoleInstance, where the runner collects them (roles first, as Ansible does).
    handlers.push(...own_handlers);
    for (const w of unknownNotifies(play)) this.problems.warn(w.message, w.pos);
    return play;
  }

  /** strategy and serial, when literal: Ansible rejects bad ones only once the play starts. */
  private checkPlayRunKeywords(s: Src): void {
    const obj = s.v as Record<string, unknown>;
    const strategies = ['linear', 'free', 'host_pinned', 'debug'];
    const st = obj.strategy;
    const short = typeof st === 'string' ? st.replace(/^ansible\.(builtin|legacy)\./, '') : undefined;
    if (short !== undefined && !isTemplated(short) && !strategies.includes(short)) {
      const guess = didYouMean(short, strategies);
      // A near-miss is a typo; anything else may be a strategy plugin (mitogen_linear, ...)
      // that drover does not have: say so without refusing the playbook.
      if (guess) {
        this.add(
          `Invalid play strategy specified: ${st}`,
          srcPos(child(s, 'strategy')),
          `did you mean '${guess}'?`,
        );
      } else {
        this.problems.warn(
          `the strategy plugin '${st}' is not one of drover's (${strategies.join(', ')})`,
          srcPos(child(s, 'strategy')),
        );
      }
    }
    const serial = obj.serial;
    if (serial !== undefined && serial !== null) {
      const ok = (v: unknown) =>
        (typeof v === 'number' && Number.isInteger(v) && v >= 0) ||
        (typeof v === 'string' && (isTemplated(v) || /^\s*\d+(\.\d+)?\s*%?\s*$/.test(v)));
      const list = Array.isArray(serial) ? serial : [serial];
      if (!(isTemplated(serial) || (list.length > 0 && list.every(ok)))) {
        this.add(
          `'serial' must be a number of hosts, a percentage ("30%") or a list of them, got ${JSON.stringify(serial)}`,
          srcPos(child(s, 'serial')),
        );
      }
    }
    const mfp = obj.max_fail_percentage;
    if (mfp !== undefined && mfp !== null && !isTemplated(mfp)) {
      const n =
        typeof mfp === 'number' ? mfp : typeof mfp === 'string' ? Number(mfp.replace(/%$/, '')) : Number.NaN;
      if (Number.isNaN(n)) {
        this.add(
          `'max_fail_percentage' must be a number (a percentage), got ${JSON.stringify(mfp)}`,
          srcPos(child(s, 'max_fail_percentage')),
        );
      }
    }
  }

  private collectRoleHandlers(r: RoleInstance, sink: PlayNode[]): void {
    for (const d of r.dependencies) this.collectRoleHandlers(d, sink);
    for (const h of r.handlers) if (!sink.includes(h)) sink.push(h);
  }

  private varsFiles(s: Src, baseDir: string): unknown[] {
    const v = s.v;
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? items(s) : [s];
    const out: unknown[] = [];
    for (const it of list) {
      out.push(it.v);
      const candidates = typeof it.v === 'string' ? [it.v] : Array.isArray(it.v) ? it.v : undefined;
      if (!candidates?.every((c) => typeof c === 'string')) {
        this.add(
          `vars_files entries must be file names (or lists of them), got a ${typeName(it.v)}`,
          srcPos(it),
        );
        continue;
      }
      if (candidates.some((c) => isTemplated(c))) continue;
      const found = candidates.find((c) => existsSync(resolve(baseDir, c)));
      if (found === undefined) {
        this.add(
          `vars file ${candidates.join(', ')} was not found`,
          srcPos(it),
          `looked in ${baseDir}; paths in vars_files are relative to the playbook`,
        );
      } else {
        // Parse it now so its YAML problems are reported in this pass.
        this.loadVarsFile(resolve(baseDir, found), srcPos(it));
      }
    }
    return out;
  }

  private varsPrompt(s: Src): VarsPrompt[] {
    const v = s.v;
    if (v === undefined || v === null) return [];
    const keys = [
      'name',
      'prompt',
      'default',
      'private',
      'confirm',
      'encrypt',
      'salt_size',
      'salt',
      'unsafe',
    ];
    if (isRecord(v)) {
      // The old form: {var_name: prompt text}.
      return Object.entries(v).map(([name, prompt]) => ({ name, prompt: String(prompt) }));
    }
    if (!Array.isArray(v)) {
      this.add(`'vars_prompt' must be a list of prompts, got a ${typeName(v)}`, srcPos(s));
      return [];
    }
    const out: VarsPrompt[] = [];
    for (const it of items(s)) {
      if (!isRecord(it.v) || typeof it.v.name !== 'string') {
        this.add("each vars_prompt entry needs a 'name'", srcPos(it));
        continue;
      }
      for (const k of Object.keys(it.v)) {
        if (!keys.includes(k)) this.unknownKeyword(k, keyPos(it, k), 'vars_prompt entry', keys);
      }
      const p: VarsPrompt = { name: it.v.name };
      const o = it.v;
      if (o.prompt !== undefined) p.prompt = String(o.prompt);
      if (o.default !== undefined) p.default = o.default;
      if (o.private !== undefined)
        p.private = o.private === true || o.private === 'yes' || o.private === 'true';
      if (o.confirm !== undefined)
        p.confirm = o.confirm === true || o.confirm === 'yes' || o.confirm === 'true';
      if (typeof o.encrypt === 'string') p.encrypt = o.encrypt;
      if (typeof o.salt_size === 'number') p.salt_size = o.salt_size;
      if (o.unsafe !== undefined) p.unsafe = o.unsafe === true;
      out.push(p);
    }
    return out;
  }

  // ---------------------------------------------------------------- task lists

  private taskList(s: Src, scope: Scope, what: string): PlayNode[] {
    const v = s.v;
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.add(
        `'${what}' must be a list of tasks, got a ${typeName(v)}`,
        srcPos(s),
        isRecord(v) ? `start each entry under '${what}:' with "- "` : undefined,
      );
      return [];
    }
    const out: PlayNode[] = [];
    for (const it of items(s)) out.push(...this.taskEntry(it, scope));
    return out;
  }

  private taskEntry(s: Src, scope: Scope): PlayNode[] {
    if (s.v === null || s.v === undefined) {
      // Ansible skips an empty list entry ("-" alone) without a word.
      this.problems.warn('an empty task entry is ignored', srcPos(s));
      return [];
    }
    if (!isRecord(s.v)) {
      this.add(
        `a task must be a mapping of keywords and one module, got a ${typeName(s.v)}`,
        srcPos(s),
        typeof s.v === 'string'
          ? `if '${s.v}' is a module, write it as "- ${s.v}:"`
          : 'e.g. "- name: say hi" then "  debug: msg=hi"',
      );
      return [];
    }
    if ('block' in s.v) return [this.block(s, scope)];
    for (const k of ['rescue', 'always']) {
      if (k in s.v) {
        this.add(`'${k}' is only valid in a block: put the tasks under 'block:' first`, keyPos(s, k));
        return [];
      }
    }
    return this.task(s, scope);
  }

  private block(s: Src, scope: Scope): BlockNode {
    const obj = s.v as Record<string, unknown>;
    this.warnDuplicates(s, 'a block');
    for (const k of Object.keys(obj)) {
      if (BLOCK_KEYWORDS.has(k)) continue;
      const tk = TASK_KEYWORDS.has(k) || resolveAction(k) !== undefined || k.startsWith('with_');
      const guess = didYouMean(k, BLOCK_KEYWORDS);
      this.add(
        `'${k}' is not a valid attribute for a Block`,
        keyPos(s, k),
        guess ? `did you mean '${guess}'?` : tk ? `'${k}' belongs on a task inside the block` : undefined,
      );
    }
    const own = this.ownKeywords(s, 'Block');
    const inner = this.childScope(scope, own);
    const notify = this.stringList(child(s, 'notify'), 'notify');
    if (notify) inner.notify = notify;
    const b: BlockNode = {
      kind: 'block',
      id: this.id('b'),
      block: this.taskList(child(s, 'block'), inner, 'block'),
      rescue: this.taskList(child(s, 'rescue'), inner, 'rescue'),
      always: this.taskList(child(s, 'always'), inner, 'always'),
      when: inner.when,
      tags: inner.tags,
      keywords: inner.keywords,
      origin: scope.origin,
      pos: srcPos(s),
    };
    if (obj.name !== undefined && obj.name !== null) b.name = String(obj.name);
    return b;
  }

  private task(s: Src, scope: Scope): PlayNode[] {
    const obj = s.v as Record<string, unknown>;
    const pos = srcPos(s);
    const allowed = scope.handler ? HANDLER_KEYWORDS : TASK_KEYWORDS;
    this.warnDuplicates(s, 'a task');
    let written: string | undefined;
    let writtenKey: string | undefined;
    let args: Record<string, unknown> = {};
    let argsSrc: Src = s;
    let delegateLocal = false;
    let shapeOk = true;

    const additional = (() => {
      const a = child(s, 'args');
      if (a.v === undefined || a.v === null) return {};
      if (isRecord(a.v)) return { ...a.v };
      if (typeof a.v === 'string' && isTemplated(a.v)) return { _variable_params: a.v };
      this.add(
        typeof a.v === 'string'
          ? "Complex args containing variables cannot use bare variables (without Jinja2 delimiters), and must use the full variable style ('{{var_name}}')"
          : `'args' must be a mapping of module arguments, got a ${typeName(a.v)}`,
        srcPos(a),
      );
      shapeOk = false;
      return {};
    })();

    const shape = (fn: () => void, where: Src): void => {
      try {
        fn();
      } catch (e) {
        if (!(e instanceof ActionShapeError)) throw e;
        this.add(e.message, srcPos(where), e.hint);
        shapeOk = false;
      }
    };
    for (const key of ['action', 'local_action']) {
      if (!(key in obj)) continue;
      const c = child(s, key);
      if (written !== undefined) {
        this.add('action and local_action are mutually exclusive', keyPos(s, key));
        continue;
      }
      shape(() => {
        const r = oldStyleArgs(c.v);
        written = r.written;
        writtenKey = key;
        args = r.args;
        argsSrc = c;
      }, c);
      if (key === 'local_action') delegateLocal = true;
    }

    let loop: unknown;
    let loopKind: string | undefined;
    let loopSet = 'loop' in obj && obj.loop !== null && obj.loop !== undefined;
    if (loopSet) {
      loop = obj.loop;
      loopKind = 'loop';
      this.checkTemplates(child(s, 'loop'), 'loop');
      if (typeof loop === 'string' && !isTemplated(loop)) {
        this.add(
          `Invalid data passed to 'loop', it requires a list, got this instead: ${loop}`,
          srcPos(child(s, 'loop')),
          `to loop over a variable write loop: "{{ ${loop.trim()} }}"`,
        );
      } else if (isRecord(loop) || typeof loop === 'number' || typeof loop === 'boolean') {
        this.add(
          `Invalid data passed to 'loop', it requires a list, got a ${typeName(loop)}`,
          srcPos(child(s, 'loop')),
        );
      }
    }
    const unknown: string[] = [];
    for (const key of Object.keys(obj)) {
      if (allowed.has(key) || key === 'static') continue;
      if (key.startsWith('with_')) {
        const kind = key.slice(5);
        if (!WITH_LOOKUPS.has(kind)) {
          const guess = didYouMean(kind, WITH_LOOKUPS);
          if (guess) {
            this.add(
              `'${key}' is not a valid attribute for a Task`,
              keyPos(s, key),
              `did you mean 'with_${guess}'?`,
            );
            continue;
          }
          // Another lookup plugin (from a collection): the loop is kept; the runner decides.
          this.problems.warn(
            `the lookup plugin '${kind}' of '${key}' is not one drover knows`,
            keyPos(s, key),
          );
        }
        if (loopSet) {
          this.add(
            `duplicate loop in task: ${kind}`,
            keyPos(s, key),
            `use either 'loop' or one 'with_*' keyword in a task, not both`,
          );
          continue;
        }
        if (obj[key] === null || obj[key] === undefined) {
          this.add(`you must specify a value when using ${key}`, keyPos(s, key));
          continue;
        }
        loopSet = true;
        loop = obj[key];
        loopKind = kind;
        this.checkTemplates(child(s, key), key);
        continue;
      }
      if (resolveAction(key)) {
        if (written !== undefined) {
          this.add(
            `conflicting action statements: ${written}, ${key}`,
            keyPos(s, key),
            'a task runs one module: split it into two tasks',
          );
          continue;
        }
        written = key;
        writtenKey = key;
        const c = child(s, key);
        argsSrc = c;
        shape(() => {
          args = newStyleArgs(c.v, key);
        }, c);
        continue;
      }
      unknown.push(key);
    }

    const names = knownActionNames();
    for (const key of unknown) {
      const kw = didYouMean(key, [...allowed, 'block', 'rescue', 'always']);
      const mod = didYouMean(key, names);
      if (key === 'import_playbook' || key === 'ansible.builtin.import_playbook') {
        this.add(
          `'${key}' is not valid in a task list`,
          keyPos(s, key),
          'import_playbook goes at the top level of a playbook, next to plays; use import_tasks for a tasks file',
        );
      } else if (
        written === undefined &&
        (!kw || (mod !== undefined && didYouMean(key, [mod, kw]) === mod))
      ) {
        // No module in the task: a key closer to a module name than to a keyword is the
        // misspelt module (`shel` → shell, not `when`).
        this.add(
          `couldn't resolve module/action '${key}'. This often indicates a misspelling, missing collection, or incorrect module path.`,
          keyPos(s, key),
          mod ? `did you mean '${mod}'?` : undefined,
        );
      } else {
        const guess = kw ?? mod;
        this.add(
          `'${key}' is not a valid attribute for a ${scope.handler ? 'Handler' : 'Task'}`,
          keyPos(s, key),
          guess ? `did you mean '${guess}'?` : undefined,
        );
      }
    }
    if (written === undefined) {
      if (unknown.length === 0 && shapeOk) {
        this.add(
          'no module/action detected in task.',
          pos,
          'a task needs one module or action key, e.g. "debug: msg=hello"',
        );
      }
      return [];
    }
    const resolved = resolveAction(written);
    if (!resolved) {
      const guess = didYouMean(written, names);
      this.add(
        `couldn't resolve module/action '${written}'. This often indicates a misspelling, missing collection, or incorrect module path.`,
        srcPos(argsSrc),
        guess ? `did you mean '${guess}'?` : undefined,
      );
      return [];
    }
    args = { ...additional, ...args };
    const raw = args._raw_params;
    if (typeof raw === 'string' && raw !== '' && !this.rawAllowed(resolved.name)) {
      delete args._raw_params;
      if (isTemplated(raw)) args._variable_params = raw;
      else {
        this.add(
          `this task '${written}' has extra params, which is only allowed in the following modules: command, shell, raw, script, include_vars, include_tasks, include_role, import_tasks, import_role, add_host, group_by, set_fact, meta`,
          srcPos(argsSrc),
          `write the arguments as key=value pairs or a mapping (the text '${raw}' is not one)`,
        );
        shapeOk = false;
      }
    }
    const own = this.ownKeywords(s, scope.handler ? 'Handler' : 'Task');
    if (delegateLocal) own.keywords.delegate_to = 'localhost';
    if (shapeOk) this.validateTaskArgs(written, resolved, args, argsSrc, scope, own);
    this.checkArgNames(args, srcPos(argsSrc), resolved.name);
    this.noteControllerWriter(resolved.name, own.keywords as Record<string, unknown>);
    this.checkControllerFile(resolved.name, args, argsSrc, scope);

    if (resolved.name === 'import_tasks') return this.importTasks(s, args, argsSrc, scope, own, loopSet);
    if (this.isStaticInclude(written, args, obj, loopSet)) {
      return this.importTasks(s, args, argsSrc, scope, own, loopSet);
    }
    if (resolved.name === 'import_role') return this.importRole(s, args, argsSrc, scope, own, loopSet);

    const inner = this.childScope(scope, own);
    const t: TaskNode = {
      kind: 'task',
      id: this.id('t'),
      action: resolved.name,
      actionAs: written,
      args,
      when: inner.when,
      tags: inner.tags,
      keywords: inner.keywords,
      origin: scope.origin,
      pos,
    };
    if (writtenKey === 'action' || writtenKey === 'local_action') t.actionKey = writtenKey;
    if (obj.name !== undefined && obj.name !== null) t.name = String(obj.name);
    if (obj.register !== undefined) {
      if (typeof obj.register !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(obj.register.trim())) {
        this.add(
          `'register' must be a variable name, got ${JSON.stringify(obj.register)}`,
          srcPos(child(s, 'register')),
        );
      } else t.register = obj.register.trim();
    }
    if (loopSet) {
      t.loop = loop;
      t.loopKind = loopKind ?? 'loop';
    }
    if (obj.loop_control !== undefined && obj.loop_control !== null) {
      const lc = child(s, 'loop_control');
      if (!isRecord(lc.v)) {
        this.add(
          'the `loop_control` value must be specified as a dictionary and cannot be a variable itself (though it can contain variables)',
          srcPos(lc),
        );
      } else {
        const lcKeys = ['loop_var', 'index_var', 'label', 'pause', 'extended', 'extended_allitems'];
        for (const k of Object.keys(lc.v)) {
          if (!lcKeys.includes(k)) this.unknownKeyword(k, keyPos(lc, k), 'LoopControl', lcKeys);
        }
        t.loop_control = lc.v;
      }
    }
    for (const k of ['changed_when', 'failed_when'] as const) {
      if (k in obj) t[k] = this.conditionList(child(s, k), k);
    }
    if (obj.until !== undefined && obj.until !== null) {
      this.conditionList(child(s, 'until'), 'until');
      t.until = obj.until;
    }
    for (const k of ['retries', 'delay', 'async', 'poll'] as const) if (obj[k] !== undefined) t[k] = obj[k];
    const notify = this.stringList(child(s, 'notify'), 'notify') ?? scope.notify;
    if (notify) t.notify = notify;
    if (scope.handler) {
      t.handler = true;
      const listen = this.stringList(child(s, 'listen'), 'listen');
      if (listen) t.listen = listen;
    }
    if (resolved.name === 'assert' && !('_variable_params' in args)) {
      const that = args.that;
      for (const c of Array.isArray(that) ? that : [that]) {
        const err = conditionalSyntaxError(c);
        if (err) this.add(`template error in 'assert.that: ${String(c)}': ${err}`, srcPos(argsSrc));
      }
    }
    if (resolved.name === 'include_role') this.checkIncludeRole(args, argsSrc, scope);
    if (resolved.name === 'include_tasks' || resolved.name === 'include_vars') {
      this.checkIncludedFile(resolved.name, args, argsSrc, scope);
    }
    return [t];
  }

  /**
   * The deprecated `include:` is static in 2.14 unless its file name is templated, it
   * loops, or `static: no` says otherwise (helpers.load_list_of_tasks).
   */
  private isStaticInclude(
    written: string,
    args: Record<string, unknown>,
    obj: Record<string, unknown>,
    loop: boolean,
  ): boolean {
    if (!['include', 'ansible.builtin.include', 'ansible.legacy.include'].includes(written)) return false;
    if (obj.static !== undefined) return obj.static === true || obj.static === 'yes';
    const file = args._raw_params ?? args.file;
    return typeof file === 'string' && !isTemplated(file) && !loop;
  }

  private rawAllowed(name: string): boolean {
    return [
      'command',
      'shell',
      'raw',
      'script',
      'include_vars',
      'include_tasks',
      'include_role',
      'import_tasks',
      'import_role',
      'add_host',
      'group_by',
      'set_fact',
      'meta',
    ].includes(name);
  }

  private validateTaskArgs(
    written: string,
    resolved: NonNullable<ReturnType<typeof resolveAction>>,
    args: Record<string, unknown>,
    argsSrc: Src,
    scope: Scope,
    own: OwnKeywords,
  ): void {
    if ('_variable_params' in args) return;
    const where = srcPos(argsSrc);
    if (resolved.name === 'meta') {
      const m = args._raw_params;
      if (typeof m === 'string' && !isTemplated(m) && !META_ACTIONS.includes(m)) {
        const guess = didYouMean(m, META_ACTIONS);
        this.add(
          `invalid meta action requested: ${m}`,
          where,
          guess ? `did you mean '${guess}'?` : undefined,
        );
      }
      return;
    }
    const spec = resolved.spec;
    const names = argNames(spec);
    // `!vault` and `!unsafe` values are strings to the module; validate them as such.
    let toCheck = Object.fromEntries(
      Object.entries(args).map(([k, v]) => [
        k,
        v instanceof VaultString || v instanceof UnsafeString ? String(v) : v,
      ]),
    );
    if (resolved.anyArgs) toCheck = Object.fromEntries(Object.entries(toCheck).filter(([k]) => names.has(k)));
    const r = validateArgs(resolved.name, spec, toCheck, { partial: true });
    const laterDefaults = scope.moduleDefaults || own.keywords.module_defaults !== undefined;
    const unsupported = Object.keys(toCheck).filter(
      (k) => !names.has(k) && !(k === '_raw_params' && spec.freeForm) && !k.startsWith('_ansible_'),
    );
    for (const e of r.errors) {
      // A misspelt argument usually is the "missing" one: report the spelling only.
      if (unsupported.length > 0 && /^(missing required|one of the following)/.test(e)) continue;
      if (
        laterDefaults &&
        /^(missing required|one of the following|parameters are required together|\S+ is .* but)/.test(e)
      ) {
        continue;
      }
      let hint: string | undefined;
      if (e.startsWith('Unsupported parameters')) {
        const guesses = unsupported
          .map((k) => [k, didYouMean(k, names.keys())] as const)
          .filter(([, g]) => g !== undefined)
          .map(([k, g]) => `'${g}' for '${k}'`);
        if (guesses.length > 0) hint = `did you mean ${guesses.join(', ')}?`;
      }
      if (
        e.startsWith('missing required arguments') &&
        resolved.spec.freeForm &&
        args._raw_params === undefined
      ) {
        hint = `give the command after the module name, e.g. "${written}: echo hello"`;
      }
      const unsupportedAt =
        unsupported.length === 1 && e.startsWith('Unsupported') ? keyPos(argsSrc, unsupported[0]!) : where;
      this.add(`${written}: ${e}`, unsupportedAt, hint);
    }
  }

  private importTasks(
    s: Src,
    args: Record<string, unknown>,
    argsSrc: Src,
    scope: Scope,
    own: OwnKeywords,
    hasLoop: boolean,
  ): PlayNode[] {
    if (hasLoop) {
      this.add(
        "You cannot use loops on 'import_tasks' statements. You should use 'include_tasks' instead.",
        srcPos(s),
      );
      return [];
    }
    const fileArg = args._raw_params ?? args.file;
    if (typeof fileArg !== 'string' || '_variable_params' in args) return [];
    const inner = this.childScope(scope, own);
    const name = this.staticTemplate(fileArg, inner, srcPos(argsSrc), 'import_tasks file');
    if (name === undefined) return [];
    const path = this.findTasksFile(name, scope.origin);
    if (!path.found) {
      this.add(
        `could not find or access the imported tasks file '${name}'`,
        srcPos(argsSrc),
        `looked in: ${path.searched.join(', ')}`,
      );
      return [];
    }
    if (scope.chain.includes(path.found)) {
      this.add(`circular import_tasks: ${this.chainText([...scope.chain, path.found])}`, srcPos(argsSrc));
      return [];
    }
    return this.tasksFromFile(path.found, srcPos(argsSrc), {
      ...inner,
      chain: [...scope.chain, path.found],
      origin: { ...scope.origin, baseDir: dirname(path.found) },
    });
  }

  /** Paths for a tasks file named relative to the current file, its tasks/ dir, the role, the playbook. */
  findTasksFile(name: string, origin: TaskOrigin): { found?: string; searched: string[] } {
    const dirs = isAbsolute(name)
      ? ['']
      : uniq([
          origin.baseDir,
          join(origin.baseDir, 'tasks'),
          ...(origin.role ? [join(origin.role.path, 'tasks')] : []),
          this.baseDir,
          join(this.baseDir, 'tasks'),
        ]);
    const searched = dirs.map((d) => (d === '' ? name : join(d, name)));
    const found = searched.find((p) => existsSync(p) && statSync(p).isFile());
    return found ? { found: resolve(found), searched } : { searched };
  }

  private tasksFromFile(file: string, from: SourcePos | undefined, scope: Scope): PlayNode[] {
    const d = this.doc(file, from);
    if (!d || d.v === null || d.v === undefined) return [];
    if (!Array.isArray(d.v)) {
      this.add(`a tasks file must hold a list of tasks, got a ${typeName(d.v)}`, srcPos(d));
      return [];
    }
    if (d.v.length > 0 && isRecord(d.v[0]) && 'hosts' in d.v[0]) {
      this.add(
        `'${file}' is a playbook, not a tasks file`,
        srcPos(d),
        'use import_playbook at the top level of a playbook to include plays',
      );
      return [];
    }
    return this.taskList(d, scope, 'tasks');
  }

  // ---------------------------------------------------------------- roles

  private importRole(
    s: Src,
    args: Record<string, unknown>,
    argsSrc: Src,
    scope: Scope,
    own: OwnKeywords,
    hasLoop: boolean,
  ): PlayNode[] {
    if (hasLoop) {
      this.add(
        "You cannot use loops on 'import_role' statements. You should use 'include_role' instead.",
        srcPos(s),
      );
      return [];
    }
    if (typeof args.name !== 'string' || '_variable_params' in args) return [];
    const inner = this.childScope(scope, { ...own, keywords: { ...own.keywords } });
    // Role vars given at the use site are role params, not task vars.
    const params: Record<string, unknown> = { ...(own.keywords.vars ?? {}) };
    delete inner.keywords.vars;
    if (scope.keywords.vars) inner.keywords.vars = scope.keywords.vars;
    const name = this.staticTemplate(args.name, inner, srcPos(argsSrc), 'import_role name');
    if (name === undefined) return [];
    const from: RoleFrom = {};
    for (const k of ['tasks_from', 'vars_from', 'defaults_from', 'handlers_from'] as const) {
      if (typeof args[k] === 'string') from[k] = args[k] as string;
    }
    const role = this.role(
      name,
      srcPos(argsSrc),
      scope.origin.role ? [dirname(scope.origin.role.path)] : [],
      params,
      { ...inner, handlerSink: undefined },
      from,
      args.allow_duplicates !== false,
    );
    if (!role) return [];
    if (scope.handlerSink) this.collectRoleHandlers(role, scope.handlerSink);
    const out: PlayNode[] = [];
    const flatten = (r: RoleInstance) => {
      for (const d of r.dependencies) flatten(d);
      out.push(...r.tasks);
    };
    flatten(role);
    return out;
  }

  /**
   * A literal include_tasks / include_vars file that does not exist is a warning: the
   * include may sit behind a `when` that never holds, so only running it can fail.
   */
  private checkIncludedFile(action: string, args: Record<string, unknown>, argsSrc: Src, scope: Scope): void {
    const file = args._raw_params ?? args.file;
    if (typeof file !== 'string' || isTemplated(file) || '_variable_params' in args) return;
    const found =
      action === 'include_tasks'
        ? this.findTasksFile(file, scope.origin).found
        : [
            ...(scope.origin.role ? [join(scope.origin.role.path, 'vars', file)] : []),
            resolve(scope.origin.baseDir, file),
            resolve(scope.origin.baseDir, 'vars', file),
            resolve(this.baseDir, file),
            resolve(this.baseDir, 'vars', file),
          ].find((p) => existsSync(p));
    if (!found) this.problems.warn(`${action}: could not find '${file}'`, srcPos(argsSrc));
  }

  private checkIncludeRole(args: Record<string, unknown>, argsSrc: Src, scope: Scope): void {
    if (typeof args.name !== 'string' || isTemplated(args.name)) return;
    const where = this.findRole(args.name, scope.origin.role ? [dirname(scope.origin.role.path)] : []);
    if (!where.found) {
      this.problems.warn(
        `the role '${args.name}' (include_role) was not found in ${where.searched.join(':')}`,
        srcPos(argsSrc),
      );
    }
  }

  private rolesSection(s: Src, scope: Scope): RoleInstance[] {
    const v = s.v;
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.add(`'roles' must be a list of roles, got a ${typeName(v)}`, srcPos(s));
      return [];
    }
    const out: RoleInstance[] = [];
    for (const it of items(s)) {
      const r = this.roleEntry(it, scope, []);
      if (r) out.push(r);
    }
    return out;
  }

  /** One `roles:` or `dependencies:` entry: a name, or a mapping with role/name, keywords and params. */
  private roleEntry(s: Src, scope: Scope, extraDirs: string[]): RoleInstance | undefined {
    if (typeof s.v === 'string') {
      return this.role(s.v, srcPos(s), extraDirs, {}, { ...scope, handlerSink: undefined }, {}, false);
    }
    if (!isRecord(s.v)) {
      this.add(
        `a role entry must be a role name or a mapping with 'role:', got a ${typeName(s.v)}`,
        srcPos(s),
      );
      return undefined;
    }
    const obj = s.v;
    const nameKey = 'role' in obj ? 'role' : 'name' in obj ? 'name' : undefined;
    if (!nameKey || typeof obj[nameKey] !== 'string') {
      this.add("role definitions must contain a role name ('role: <name>')", srcPos(s));
      return undefined;
    }
    const own = this.ownKeywords(s, 'Role');
    const params: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(obj)) {
      if (k === nameKey) continue;
      if (ROLE_KEYWORDS.has(k)) continue;
      params[k] = val;
      // Ansible passes any other key to the role as a parameter; a near-miss of a keyword
      // (`tgas:`) is almost always a typo, so say so without refusing the playbook.
      const guess = didYouMean(k, ROLE_KEYWORDS);
      if (guess && guess !== k && k.length > 3) {
        this.problems.warn(
          `'${k}' is passed to the role as a parameter; did you mean the keyword '${guess}'?`,
          keyPos(s, k),
        );
      }
    }
    Object.assign(params, own.keywords.vars ?? {});
    const inner = this.childScope(scope, { ...own, keywords: { ...own.keywords } });
    if (scope.keywords.vars) inner.keywords.vars = scope.keywords.vars;
    else delete inner.keywords.vars;
    const name = this.staticTemplate(obj[nameKey] as string, inner, srcPos(child(s, nameKey)), 'role name');
    if (name === undefined) return undefined;
    return this.role(
      name,
      srcPos(child(s, nameKey)),
      extraDirs,
      params,
      { ...inner, handlerSink: undefined },
      {},
      false,
    );
  }

  findRole(name: string, extraDirs: string[]): { found?: string; searched: string[] } {
    return findRoleDir(name, [...extraDirs, join(this.baseDir, 'roles'), ...this.rolesPath, this.baseDir]);
  }

  private mainFile(dir: string, base: string): string | undefined {
    return roleMainFile(dir, base);
  }

  /** defaults/ or vars/ of a role: main.yml, or every file of a main/ directory in order. */
  private roleVars(dir: string, base: string, pos: SourcePos, explicit: boolean): Record<string, unknown> {
    const f = this.mainFile(dir, base);
    if (f) return this.loadVarsFile(f, pos);
    const sub = join(dir, base);
    if (existsSync(sub) && statSync(sub).isDirectory()) {
      const out: Record<string, unknown> = {};
      for (const e of readdirSync(sub).sort()) {
        if (/\.(ya?ml|json)$/.test(e)) Object.assign(out, this.loadVarsFile(join(sub, e), pos));
      }
      return out;
    }
    if (explicit) this.add(`could not find '${base}' in ${dir}`, pos);
    return {};
  }

  private role(
    name: string,
    pos: SourcePos,
    extraDirs: string[],
    params: Record<string, unknown>,
    useScope: Scope,
    from: RoleFrom,
    allowDuplicatesOverride: boolean,
  ): RoleInstance | undefined {
    if (/^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$/i.test(name) && !this.findRole(name, extraDirs).found) {
      this.add(
        `the role '${name}' is a collection role, and collections are not installed for drover`,
        pos,
        'copy the role into roles/ beside the playbook, or into a roles_path directory',
      );
      return undefined;
    }
    const where = this.findRole(name, extraDirs);
    if (!where.found) {
      this.add(
        `the role '${name}' was not found in ${where.searched.join(':')}`,
        pos,
        'check the role name, or add the directory that holds it to roles_path (ansible.cfg or ANSIBLE_ROLES_PATH)',
      );
      return undefined;
    }
    const path = where.found;
    if (useScope.roleChain.includes(path)) {
      const names = [...useScope.roleChain, path].map((p) => basename(p));
      this.add(
        `role dependency cycle: ${names.join(' -> ')}`,
        pos,
        'remove one of the dependencies in meta/main.yml',
      );
      return undefined;
    }
    const inst: RoleInstance = {
      name: basename(path),
      path,
      params,
      defaults: this.roleVars(
        join(path, 'defaults'),
        from.defaults_from ?? 'main',
        pos,
        from.defaults_from !== undefined,
      ),
      vars: this.roleVars(join(path, 'vars'), from.vars_from ?? 'main', pos, from.vars_from !== undefined),
      dependencies: [],
      tasks: [],
      handlers: [],
      pos,
      allowDuplicates: allowDuplicatesOverride,
    };
    const roleChain = [...useScope.roleChain, path];
    const meta = this.mainFile(join(path, 'meta'), 'main');
    if (meta) {
      const d = this.doc(meta, pos);
      if (d && isRecord(d.v)) {
        if (d.v.allow_duplicates === true || d.v.allow_duplicates === 'yes') inst.allowDuplicates = true;
        const deps = child(d, 'dependencies');
        if (deps.v !== undefined && deps.v !== null && !Array.isArray(deps.v)) {
          this.add(
            `'dependencies' in ${meta} must be a list of roles, got a ${typeName(deps.v)}`,
            srcPos(deps),
          );
        } else {
          for (const dep of items(deps)) {
            const r = this.roleEntry(dep, { ...useScope, roleChain }, [dirname(path)]);
            if (r) inst.dependencies.push(r);
          }
        }
      } else if (d && d.v !== null && d.v !== undefined) {
        this.add(`${meta} must hold a mapping, got a ${typeName(d.v)}`, srcPos(d));
      }
    }
    const tasksDir = join(path, 'tasks');
    const scopeFor = (handler: boolean, file: string): Scope => ({
      ...useScope,
      handler,
      roleChain,
      chain: [...useScope.chain, file],
      origin: { role: inst, baseDir: dirname(file) },
      handlerSink: undefined,
    });
    const tasksFile = this.mainFile(tasksDir, from.tasks_from ?? 'main');
    if (tasksFile) inst.tasks = this.tasksFromFile(tasksFile, pos, scopeFor(false, tasksFile));
    else if (from.tasks_from) this.add(`could not find tasks_from '${from.tasks_from}' in ${tasksDir}`, pos);
    const handlersDir = join(path, 'handlers');
    const handlersFile = this.mainFile(handlersDir, from.handlers_from ?? 'main');
    if (handlersFile) {
      // Handlers take no inherited `when` from the role's use site, only tags and keywords.
      const hs = scopeFor(true, handlersFile);
      hs.when = [];
      inst.handlers = this.tasksFromFile(handlersFile, pos, hs);
    } else if (from.handlers_from)
      this.add(`could not find handlers_from '${from.handlers_from}' in ${handlersDir}`, pos);
    return inst;
  }

  // ---------------------------------------------------------------- runtime entry points

  runtimeTasks(file: string, origin: TaskOrigin, pos?: SourcePos): PlayNode[] {
    return this.tasksFromFile(resolve(file), pos, {
      ...this.emptyScope(dirname(resolve(file)), [resolve(file)], this.opts.extraVars ?? {}),
      origin: { ...origin, baseDir: dirname(resolve(file)) },
    });
  }

  runtimeRole(
    name: string,
    fromDir: string,
    params: Record<string, unknown>,
    from: RoleFrom,
    pos: SourcePos | undefined,
  ): RoleInstance | undefined {
    const dir = resolve(fromDir);
    const extraDirs = dir === this.playbookDir ? [] : [dir];
    // Included from inside a role (<roles>/<role>/tasks): sibling roles come first.
    if (basename(dir) === 'tasks' && existsSync(join(dirname(dir), 'tasks')))
      extraDirs.unshift(dirname(dirname(dir)));
    return this.role(
      name,
      pos ?? { file: join(fromDir, name), line: 1, col: 1 },
      extraDirs,
      params,
      this.emptyScope(fromDir, [], this.opts.extraVars ?? {}),
      from,
      true,
    );
  }
}

interface RoleFrom {
  tasks_from?: string;
  vars_from?: string;
  defaults_from?: string;
  handlers_from?: string;
}

// ---------------------------------------------------------------- public API

export interface CheckResult {
  playbook: Playbook;
  problems: Problem[];
}

/** Load and validate; never throws for problems in the playbook (they are returned). */
export function checkPlaybook(file: string, opts: LoadOptions = {}): CheckResult {
  const abs = resolve(file);
  const loader = new PlaybookLoader(opts, opts.playbookDir ?? dirname(abs));
  // Several playbooks run in one process (drover playbook a.yml b.yml): later ones get a
  // prefix so node ids stay unique across them.
  playbookLoads += 1;
  if (playbookLoads > 1) loader.idPrefix = `b${playbookLoads}.`;
  const plays = loader.loadPlaybookFile(abs, undefined, []);
  loader.reportMissingControllerFiles();
  return { playbook: { file: abs, plays }, problems: loader.problems.items };
}

/**
 * Load a playbook with its imports and roles, validated. Throws MissingFileError (exit 1)
 * when the file itself is missing, ValidationError (exit 4) with every problem otherwise.
 */
export function loadPlaybook(file: string, opts: LoadOptions = {}): Playbook {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new MissingFileError(`the playbook: ${file} could not be found`);
  const r = checkPlaybook(abs, opts);
  if (r.problems.some((p) => p.severity !== 'warning')) throw new ValidationError(r.problems);
  if (opts.onWarning) for (const p of r.problems) opts.onWarning(p);
  return r.playbook;
}

/**
 * Nodes loaded at run time must not reuse the playbook's ids ('t1', ...): each run-time
 * load gets its own id prefix ('i3.t1'). The sequence only has to be unique per process.
 */
let runtimeLoads = 0;
let playbookLoads = 0;

function runtimeLoader(opts: LoadOptions, dir: string): PlaybookLoader {
  const loader = new PlaybookLoader(opts, opts.playbookDir ?? dir);
  runtimeLoads += 1;
  loader.idPrefix = `i${runtimeLoads}.`;
  return loader;
}

function reportWarnings(loader: PlaybookLoader, opts: LoadOptions): void {
  if (!opts.onWarning) return;
  for (const p of loader.problems.warnings) opts.onWarning(p);
}

function throwIfErrors(loader: PlaybookLoader): void {
  loader.problems.throwIfAny();
}

/**
 * include_tasks at run time: load a tasks file (already templated and resolved by the
 * runner) into nodes that belong to `origin` (its role, for files/templates lookups).
 */
export function loadTasksFile(file: string, opts: LoadOptions, origin: TaskOrigin): PlayNode[] {
  const loader = runtimeLoader(opts, origin.baseDir);
  const nodes = loader.runtimeTasks(file, origin);
  throwIfErrors(loader);
  reportWarnings(loader, opts);
  return nodes;
}

/** Find a tasks file for include_tasks the way import_tasks does (returns undefined when missing). */
export function findTasksFile(name: string, opts: LoadOptions, origin: TaskOrigin): string | undefined {
  const loader = new PlaybookLoader(opts, opts.playbookDir ?? origin.baseDir);
  return loader.findTasksFile(name, origin).found;
}

/**
 * include_role at run time: find and load a role (its dependencies, defaults, vars, tasks
 * and handlers). `params` may carry tasks_from / vars_from / defaults_from / handlers_from;
 * the rest become the role's params. Roles are searched in `fromDir` first (pass the
 * parent directory of the including role, so sibling roles are found), then
 * playbook_dir/roles, roles_path and playbook_dir. `pos` is the include_role task's
 * position, for errors.
 */
export function loadRole(
  name: string,
  opts: LoadOptions,
  fromDir: string,
  params: Record<string, unknown> = {},
  pos?: SourcePos,
): RoleInstance {
  const loader = runtimeLoader(opts, fromDir);
  const from: RoleFrom = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (
      (k === 'tasks_from' || k === 'vars_from' || k === 'defaults_from' || k === 'handlers_from') &&
      typeof v === 'string'
    ) {
      from[k] = v;
    } else if (!INCLUDE_ROLE_OPTIONS.has(k)) rest[k] = v;
  }
  const role = loader.runtimeRole(name, fromDir, rest, from, pos);
  throwIfErrors(loader);
  reportWarnings(loader, opts);
  if (!role) throw new ValidationError(loader.problems.items);
  if (params.allow_duplicates === false || params.allow_duplicates === 'no') role.allowDuplicates = false;
  return role;
}

/** include_role's own options: not role parameters when the runner passes the task's args. */
const INCLUDE_ROLE_OPTIONS: ReadonlySet<string> = new Set([
  'name',
  'apply',
  'public',
  'allow_duplicates',
  'rolespec_validate',
]);

/** include_vars / vars_files at run time: a vars file as a mapping (vault files decrypted). */
export function loadVarsFile(file: string, opts: LoadOptions = {}): Record<string, unknown> {
  const loader = new PlaybookLoader(opts, opts.playbookDir ?? dirname(resolve(file)));
  const vars = loader.loadVarsFile(resolve(file));
  throwIfErrors(loader);
  return vars;
}
