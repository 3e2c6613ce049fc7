/**
 * `drover lint`: problems a CI job should see before anything runs, each with file:line:col.
 *
 * - Everything the playbook loader reports (src/playbook/load.ts, the same validation
 *   `drover playbook` and `--syntax-check` run): unknown modules and keywords with a
 *   did-you-mean, bad arguments, missing files, YAML errors.
 * - `undefined-variable` (error): a variable a template or condition reads that NO source
 *   defines: play/block/task/role vars, role defaults and params, vars_files, vars_prompt,
 *   include_vars, register, set_fact, add_host, loop variables, facts (`ansible_*` and the
 *   facts modules' names), magic variables, the inventory's host and group vars (with the
 *   group_vars/host_vars beside it and beside the playbook), extra vars. Only a proof is
 *   reported: a name guarded anywhere by `is defined`, `is undefined` or `default` is not,
 *   and when a source cannot be read statically (a templated vars_files or include name, an
 *   unknown facts module, a load error) the rule reports nothing for that playbook.
 * - `no-jinja-when` (warning): `{{ }}` in when/changed_when/failed_when (Ansible warns at run
 *   time; ansible-lint's rule of the same name).
 * - `deprecated-bare-vars` (warning): `with_items: name` loops over the string "name", not
 *   the variable (ansible-lint's rule of the same name).
 * - `deprecated-module` (warning): `include:`, deprecated in ansible-core 2.14 and removed in
 *   2.16 (Ansible prints the deprecation itself).
 * - `bare-var-string-condition` (warning): `when: flag` where every known value of `flag` is a
 *   string like "false" (true for Ansible, see boolStringConditions).
 * `with_*` loops in general are not reported: ansible-lint does not flag them either.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Node, Scalar } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import { didYouMean, type Problem, type SourcePos } from '../errors.js';
import {
  checkPlaybook,
  findTasksFile,
  type LoadOptions,
  loadRole,
  loadTasksFile,
  loadVarsFile,
} from '../playbook/load.js';
import { roleMainFile } from '../playbook/role-path.js';
import type { Play, PlayNode, RoleInstance, TaskNode } from '../playbook/types.js';
import { type LoadedYaml, loadYaml, posOf } from '../yaml/load.js';
import { templateVars, type VarRef } from './template-vars.js';

/** `info` never changes the exit code (not even with --strict). */
export type LintSeverity = 'error' | 'warning' | 'info';

export interface LintProblem {
  rule: string;
  severity: LintSeverity;
  message: string;
  pos?: SourcePos;
  hint?: string;
}

export interface LintOptions {
  load: LoadOptions;
  /** Every variable name the inventory defines for some host or group. */
  inventoryVars: ReadonlySet<string>;
  /** The values the inventory gives each of those names (for the bare-variable check). */
  inventoryValues?: ReadonlyMap<string, readonly unknown[]>;
  /** How the inventory was chosen, for messages ("-i inventories/staging"). */
  inventoryLabel: string;
  extraVars: Record<string, unknown>;
}

/** Names the runner defines for every task (src/runner/play.ts, src/inventory magicVars). */
const MAGIC = new Set([
  'hostvars',
  'groups',
  'group_names',
  'inventory_hostname',
  'inventory_hostname_short',
  'inventory_dir',
  'inventory_file',
  'playbook_dir',
  'play_hosts',
  'role_name',
  'role_path',
  'role_names',
  'omit',
  'vars',
  'item',
  'environment',
  // The template module's own variables.
  'template_host',
  'template_path',
  'template_fullpath',
  'template_run_date',
  'template_uid',
  'template_destpath',
]);
/** Facts, magic `ansible_*` variables and connection variables; facts of other systems. */
const FREE_PREFIXES = ['ansible_', 'facter_', 'ohai_'];
/** Template globals (src/template/globals.ts) and Jinja's own. */
const GLOBALS = new Set([
  'range',
  'lookup',
  'query',
  'q',
  'dict',
  'namespace',
  'lipsum',
  'cycler',
  'joiner',
  'now',
  'undef',
  'zip',
]);
/** Modules that set facts outside `ansible_*`, with the names they set. */
const FACT_NAMES: Record<string, string[]> = {
  package_facts: ['packages'],
  service_facts: ['services'],
  setup: [],
  gather_facts: [],
  hostname: [],
  mount_facts: [],
};
const FACT_PREFIXES: Record<string, string> = { getent: 'getent_' };

const CONDITION_KEYS = new Set(['when', 'changed_when', 'failed_when']);
const EXPRESSION_KEYS = new Set([...CONDITION_KEYS, 'until', 'that']);
/** Keys whose values are names or patterns, not templates Ansible renders per task. */
const NOT_TEMPLATED = new Set(['register', 'tags', 'notify', 'listen', 'hosts', 'loop_var', 'index_var']);
const INCLUDE_KEYS = new Set(['include', 'ansible.builtin.include', 'ansible.legacy.include']);
const DEBUG_KEYS = new Set(['debug', 'ansible.builtin.debug', 'ansible.legacy.debug']);
/** with_<kind> whose value is the list to loop over (a bare word there is the deprecated form). */
const BARE_VAR_LOOPS = new Set([
  'items',
  'list',
  'dict',
  'nested',
  'cartesian',
  'together',
  'subelements',
  'indexed_items',
  'flattened',
  'random_choice',
]);

function isTemplated(s: string): boolean {
  return s.includes('{{') || s.includes('{%');
}

function loaderRule(p: Problem): string {
  if (p.severity === 'warning') return 'load-warning';
  if (/couldn't resolve module\/action/.test(p.message)) return 'syntax-check[unknown-module]';
  if (/is not a valid attribute/.test(p.message)) return 'syntax-check[unknown-keyword]';
  return 'syntax-check';
}

/** What a playbook defines, and whether that list is complete enough to prove absence. */
class Definitions {
  readonly names = new Set<string>();
  readonly prefixes: string[] = [];
  readonly files = new Set<string>();
  readonly templates = new Set<string>();
  /** Why absence cannot be proved (empty: it can). */
  readonly unknown: string[] = [];

  constructor(private readonly opts: LintOptions) {}

  /** Literal values each name is given in vars (for the bare-variable check of `when`). */
  readonly values = new Map<string, unknown[]>();
  /** Names set at run time (register, set_fact, facts, ...): their values are unknown. */
  readonly opaque = new Set<string>();

  /** Names whose values only the run knows. */
  add(keys: Iterable<string>): void {
    for (const k of keys) {
      this.names.add(k);
      this.opaque.add(k);
    }
  }

  addVarsOf(v: unknown): void {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v)) {
      this.names.add(k);
      const list = this.values.get(k) ?? [];
      list.push(x);
      this.values.set(k, list);
    }
  }

  has(name: string): boolean {
    return (
      this.names.has(name) ||
      MAGIC.has(name) ||
      GLOBALS.has(name) ||
      this.opts.inventoryVars.has(name) ||
      name in this.opts.extraVars ||
      FREE_PREFIXES.some((p) => name.startsWith(p)) ||
      this.prefixes.some((p) => name.startsWith(p))
    );
  }

  play(p: Play): void {
    this.files.add(p.file);
    this.addVarsOf(p.keywords.vars);
    for (const v of p.vars_prompt) this.add([v.name]);
    for (const entry of p.vars_files) this.varsFilesEntry(entry, p.baseDir);
    for (const r of p.roles) this.role(r);
    for (const list of [p.pre_tasks, p.tasks, p.post_tasks, p.handlers]) this.nodes(list);
  }

  private varsFilesEntry(entry: unknown, baseDir: string): void {
    // A list is first_found: any of its files may be the one read.
    const candidates = Array.isArray(entry) ? entry : [entry];
    for (const c of candidates) {
      if (typeof c !== 'string' || isTemplated(c)) {
        this.unknown.push(`vars_files entry ${JSON.stringify(c)} is templated`);
        continue;
      }
      const file = isAbsolute(c) ? c : resolve(baseDir, c);
      if (!existsSync(file)) {
        if (!Array.isArray(entry)) this.unknown.push(`vars file ${c} is missing`);
        continue;
      }
      this.varsFile(file);
    }
  }

  private varsFile(file: string): void {
    try {
      this.addVarsOf(loadVarsFile(file, this.opts.load));
      this.files.add(file);
    } catch (e) {
      this.unknown.push(`vars file ${file} could not be read: ${(e as Error).message}`);
    }
  }

  private readonly seenRoles = new Set<RoleInstance>();

  private role(r: RoleInstance): void {
    if (this.seenRoles.has(r)) return;
    this.seenRoles.add(r);
    this.addVarsOf(r.defaults);
    this.addVarsOf(r.vars);
    this.addVarsOf(r.params);
    for (const base of ['defaults', 'vars']) {
      const f = roleMainFile(join(r.path, base), 'main');
      if (f) this.files.add(f);
    }
    for (const d of r.dependencies) this.role(d);
    this.nodes(r.tasks);
    this.nodes(r.handlers);
  }

  nodes(list: PlayNode[]): void {
    for (const n of list) {
      this.files.add(n.pos.file);
      this.addVarsOf(n.keywords.vars);
      if (n.kind === 'block') {
        this.nodes(n.block);
        this.nodes(n.rescue);
        this.nodes(n.always);
      } else this.task(n);
    }
  }

  private task(t: TaskNode): void {
    if (t.register) this.add([t.register]);
    const lc = t.loop_control ?? {};
    for (const k of ['loop_var', 'index_var'] as const) {
      const v = lc[k];
      if (typeof v === 'string') this.add([v]);
    }
    const args = t.args;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    switch (t.action) {
      case 'set_fact':
      case 'set_stats':
        for (const k of Object.keys(args)) {
          if (isTemplated(k)) this.unknown.push(`a templated fact name at ${t.pos.file}:${t.pos.line}`);
          else if (k !== 'cacheable' && k !== '_raw_params') this.add([k]);
        }
        if (typeof args._raw_params === 'string')
          this.unknown.push(`free-form set_fact at ${t.pos.file}:${t.pos.line}`);
        break;
      case 'add_host':
        this.add(Object.keys(args));
        break;
      case 'include_vars': {
        const name = str(args.name);
        if (name) this.add([name]);
        const file = str(args.file) ?? str(args._raw_params);
        if (name) break;
        if (!file || isTemplated(file) || args.dir !== undefined) {
          this.unknown.push(`include_vars at ${t.pos.file}:${t.pos.line} reads files known only at run time`);
          break;
        }
        const where = t.origin.role ? join(t.origin.role.path, 'vars') : t.origin.baseDir;
        const found = [resolve(where, file), resolve(t.origin.baseDir, file)].find((f) => existsSync(f));
        if (found) this.varsFile(found);
        else this.unknown.push(`include_vars file ${file} not found`);
        break;
      }
      case 'include_tasks': {
        const file = str(args.file) ?? str(args._raw_params);
        const found = file && !isTemplated(file) ? findTasksFile(file, this.opts.load, t.origin) : undefined;
        if (!found) {
          this.unknown.push(
            `include_tasks at ${t.pos.file}:${t.pos.line} names a file known only at run time`,
          );
          break;
        }
        try {
          this.nodes(loadTasksFile(found, this.opts.load, t.origin));
        } catch (e) {
          this.unknown.push(`${found}: ${(e as Error).message}`);
        }
        break;
      }
      case 'include_role': {
        const name = str(args.name);
        if (!name || isTemplated(name)) {
          this.unknown.push(
            `include_role at ${t.pos.file}:${t.pos.line} names a role known only at run time`,
          );
          break;
        }
        try {
          const fromDir = t.origin.role ? dirname(t.origin.role.path) : t.origin.baseDir;
          this.role(loadRole(name, this.opts.load, fromDir, args));
        } catch (e) {
          this.unknown.push(`role ${name}: ${(e as Error).message}`);
        }
        break;
      }
      case 'template': {
        const src = str(args.src);
        if (src && !isTemplated(src)) {
          const dirs = [
            ...(t.origin.role ? [join(t.origin.role.path, 'templates'), t.origin.role.path] : []),
            join(t.origin.baseDir, 'templates'),
            t.origin.baseDir,
          ];
          const found = isAbsolute(src) ? src : dirs.map((d) => join(d, src)).find((f) => existsSync(f));
          if (found && existsSync(found)) this.templates.add(found);
        }
        break;
      }
    }
    const facts = FACT_NAMES[t.action];
    if (facts) this.add(facts);
    else if (FACT_PREFIXES[t.action]) this.prefixes.push(FACT_PREFIXES[t.action]!);
    else if (t.action.endsWith('_facts'))
      this.unknown.push(`${t.action} at ${t.pos.file}:${t.pos.line} sets facts drover does not know`);
  }
}

interface Found {
  name: string;
  pos: SourcePos;
}

/** Walks the YAML of one file: template references, and the rules that look at source form. */
class FileScan {
  readonly refs: Found[] = [];
  readonly guarded = new Set<string>();
  /** `when: name` / `when: not name`: a bare variable as the whole condition. */
  readonly bareConditions: Found[] = [];
  private readonly lines: string[];

  constructor(
    private readonly y: Pick<LoadedYaml, 'file' | 'lineCounter'>,
    text: string,
    private readonly problems: LintProblem[],
  ) {
    this.lines = text.split('\n');
  }

  walk(node: unknown, key: string | undefined, parents: string[], seqItem: boolean): void {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
        const v = pair.value as Node | null;
        if (k === undefined) continue;
        if (seqItem && INCLUDE_KEYS.has(k)) {
          this.problems.push({
            rule: 'deprecated-module',
            severity: 'warning',
            message: `"${k}" is deprecated (removed in ansible-core 2.16)`,
            pos: posOf(pair.key as Node, this.y),
            hint: 'use include_tasks or import_tasks (import_playbook for playbooks)',
          });
        }
        if (seqItem && k === 'name') continue;
        if (NOT_TEMPLATED.has(k)) continue;
        if (k === 'var' && parents.length > 0 && DEBUG_KEYS.has(parents[parents.length - 1]!)) continue;
        if (EXPRESSION_KEYS.has(k)) {
          this.expressions(v, k);
          continue;
        }
        if (k.startsWith('with_') && isScalar(v) && typeof v.value === 'string') {
          const word = v.value.trim();
          if (BARE_VAR_LOOPS.has(k.slice(5)) && /^[A-Za-z_][\w.]*$/.test(word)) {
            this.problems.push({
              rule: 'deprecated-bare-vars',
              severity: 'warning',
              message: `possible bare variable '${word}' in ${k}: Ansible loops over the text itself`,
              pos: posOf(v, this.y),
              hint: `write ${k}: "{{ ${word} }}"`,
            });
            continue;
          }
        }
        this.walk(v, k, [...parents, k], false);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) this.walk(item, key, parents, true);
    } else if (isScalar(node) && typeof node.value === 'string') {
      if (node.tag === '!unsafe' || node.tag === '!vault') return;
      if (isTemplated(node.value)) this.template(node, node.value, 'template');
    }
  }

  private expressions(v: Node | null, key: string): void {
    const list = isSeq(v) ? v.items : [v];
    for (const item of list) {
      if (!isScalar(item) || typeof item.value !== 'string') continue;
      if (CONDITION_KEYS.has(key) && isTemplated(item.value)) {
        this.problems.push({
          rule: 'no-jinja-when',
          severity: 'warning',
          message: `${key} is a Jinja expression already: {{ }} nests a template in it`,
          pos: posOf(item, this.y),
          hint: `write ${key}: ${item.value.replace(/^\s*\{\{\s*|\s*\}\}\s*$/g, '')}`,
        });
      }
      const bare = key === 'when' ? /^\s*(?:not\s+)?([A-Za-z_]\w*)\s*$/.exec(item.value) : null;
      if (bare) this.bareConditions.push({ name: bare[1]!, pos: posOf(item, this.y) });
      this.template(item, item.value, 'expression');
    }
  }

  private template(node: Scalar, text: string, mode: 'template' | 'expression'): void {
    const tv = templateVars(text, mode);
    if (!tv) return;
    for (const g of tv.guarded) this.guarded.add(g);
    for (const r of tv.refs) this.refs.push({ name: r.name, pos: this.refPos(node, r) });
  }

  /** Where a reference is in the file: the parser's offset, checked against the source line. */
  private refPos(node: Scalar, r: VarRef): SourcePos {
    const start = posOf(node, this.y);
    const end = this.y.lineCounter.linePos(node.range?.[1] ?? 0).line;
    const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    const word = new RegExp(`(?<![\\w.])${r.name.replace(/[^\w]/g, '')}(?!\\w)`);
    const lineAt = (l: number) => this.lines[l - 1] ?? '';
    const guessLine = block ? start.line + 1 + r.line : start.line + r.line;
    if (!block && r.line === 0) {
      const col = start.col + (quoted ? 1 : 0) + r.col;
      if (word.test(lineAt(start.line).slice(col - 1, col - 1 + r.name.length + 1)))
        return { file: this.y.file, line: start.line, col };
    }
    for (const l of [guessLine, ...Array.from({ length: end - start.line + 1 }, (_, i) => start.line + i)]) {
      const m = word.exec(lineAt(l));
      if (m) return { file: this.y.file, line: l, col: m.index + 1 };
    }
    return start;
  }
}

function readYaml(file: string, load: LoadOptions): { y: LoadedYaml; text: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
    if (text.startsWith('$ANSIBLE_VAULT;')) {
      if (!load.decryptFile) return undefined;
      text = load.decryptFile(text, file);
    }
    const y = loadYaml(text, file, load.decryptVault ? { decryptVault: load.decryptVault } : {});
    return y.problems.length ? undefined : { y, text };
  } catch {
    return undefined;
  }
}

function scanTemplateFile(file: string, refs: Found[], guarded: Set<string>): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  const tv = templateVars(text, 'template');
  if (!tv) return;
  for (const g of tv.guarded) guarded.add(g);
  for (const r of tv.refs) refs.push({ name: r.name, pos: { file, line: r.line + 1, col: r.col + 1 } });
}

/** Strings that read as booleans: as a bare `when` variable each of them is simply true. */
const BOOL_WORDS = /^(?:true|false|yes|no|on|off|y|n|0|1)$/i;

/**
 * `when: flag` where every value `flag` is given anywhere is a string like "false": since
 * ansible-core 2.12 (CONDITIONAL_BARE_VARS gone) a bare variable is not templated first, so
 * any non-empty string is true and `flag: "false"` (an INI inventory value is always a
 * string) runs the task. Reported only when all of the variable's values are known.
 */
function boolStringConditions(found: Found[], defs: Definitions, opts: LintOptions): LintProblem[] {
  const out: LintProblem[] = [];
  for (const c of found) {
    if (defs.opaque.has(c.name)) continue;
    const values = [
      ...(defs.values.get(c.name) ?? []),
      ...(opts.inventoryValues?.get(c.name) ?? []),
      ...(c.name in opts.extraVars ? [opts.extraVars[c.name]] : []),
    ];
    if (values.length === 0 || !values.every((v) => typeof v === 'string' && BOOL_WORDS.test(v.trim())))
      continue;
    const shown = [...new Set(values as string[])].map((v) => `"${v}"`).join(', ');
    out.push({
      rule: 'bare-var-string-condition',
      severity: 'warning',
      message: `'${c.name}' is the string ${shown}: as a bare variable in when, any non-empty string is true`,
      pos: c.pos,
      hint: `write when: ${c.name} | bool (or give it a YAML boolean)`,
    });
  }
  return out;
}

/** Lints one playbook (with everything it imports); problems in source order per file. */
export function lintPlaybook(file: string, opts: LintOptions): LintProblem[] {
  const abs = resolve(file);
  if (!existsSync(abs)) {
    return [{ rule: 'load-failure', severity: 'error', message: `the playbook ${file} could not be found` }];
  }
  const problems: LintProblem[] = [];
  const checked = checkPlaybook(abs, opts.load);
  for (const p of checked.problems) {
    const lp: LintProblem = { rule: loaderRule(p), severity: p.severity ?? 'error', message: p.message };
    if (p.pos) lp.pos = p.pos;
    if (p.hint) lp.hint = p.hint;
    problems.push(lp);
  }

  const defs = new Definitions(opts);
  defs.files.add(abs);
  for (const play of checked.playbook.plays) defs.play(play);

  const refs: Found[] = [];
  const guarded = new Set<string>();
  const bareConditions: Found[] = [];
  for (const f of defs.files) {
    const r = readYaml(f, opts.load);
    if (!r) continue;
    const scan = new FileScan(r.y, r.text, problems);
    for (const n of r.y.nodes) scan.walk(n, undefined, [], false);
    refs.push(...scan.refs);
    bareConditions.push(...scan.bareConditions);
    for (const g of scan.guarded) guarded.add(g);
  }
  problems.push(...boolStringConditions(bareConditions, defs, opts));
  for (const t of defs.templates) scanTemplateFile(t, refs, guarded);

  const loadFailed = checked.problems.some((p) => p.severity !== 'warning');
  if (!loadFailed && defs.unknown.length > 0) {
    // Say why the check proved nothing, so a clean result is not mistaken for a checked one.
    problems.push({
      rule: 'undefined-variable',
      severity: 'info',
      message: `undefined variables not checked in ${file}: ${defs.unknown[0]}${defs.unknown.length > 1 ? ` (and ${defs.unknown.length - 1} more)` : ''}`,
      pos: { file: abs, line: 1, col: 1 },
    });
  }
  if (!loadFailed && defs.unknown.length === 0) {
    const seen = new Set<string>();
    const known = [...defs.names, ...opts.inventoryVars, ...Object.keys(opts.extraVars)];
    for (const r of refs) {
      if (defs.has(r.name) || guarded.has(r.name)) continue;
      // One finding per name and line: `x ~ x` on one line is one mistake.
      const key = `${r.name}\0${r.pos.file}:${r.pos.line}`;
      if (seen.has(key)) continue;
      seen.add(key);
      // One- and two-letter names are "close" to every other short name: no guess for them.
      const guess = r.name.length >= 4 ? didYouMean(r.name, known) : undefined;
      const p: LintProblem = {
        rule: 'undefined-variable',
        severity: 'error',
        message: `'${r.name}' is undefined: no vars, vars file, role, register, set_fact, fact, magic variable, extra var or inventory (${opts.inventoryLabel}) defines it`,
        pos: r.pos,
      };
      p.hint = guess
        ? `did you mean '${guess}'?`
        : `define it (e.g. in group_vars/all) or guard it with '${r.name} is defined' or '| default(...)'`;
      problems.push(p);
    }
  }
  return problems;
}

/** Lints several playbooks; the result is sorted by file, line and column. */
export function lintPlaybooks(files: string[], opts: LintOptions): LintProblem[] {
  const all = files.flatMap((f) => lintPlaybook(f, opts));
  const seen = new Set<string>();
  const out: LintProblem[] = [];
  for (const p of all) {
    const key = `${p.rule}\0${p.message}\0${p.pos?.file}:${p.pos?.line}:${p.pos?.col}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out.sort(
    (a, b) =>
      (a.pos?.file ?? '').localeCompare(b.pos?.file ?? '') ||
      (a.pos?.line ?? 0) - (b.pos?.line ?? 0) ||
      (a.pos?.col ?? 0) - (b.pos?.col ?? 0),
  );
}
