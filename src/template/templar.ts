/**
 * The Templar: Ansible's templating rules on top of the Jinja engine. Lazy, recursive
 * variable resolution (a variable holding a template is rendered when used, with the same
 * vars), Ansible 2.14's type rules for results, compile caching, and error translation.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { UnsafeString, VaultString } from '../yaml/load.js';
import { type CompiledTemplate, JinjaEngine, type RenderFrame } from './engine.js';
import { TemplateError } from './error.js';
import { buildFilters, undefinedOkFilters } from './filters.js';
import { buildGlobals } from './globals.js';
import { type LookupContext, runLookup } from './lookups.js';
import { OMIT_VALUE } from './omit.js';
import { type Dict, isTuple, literalEval, PyFloat, pyStr, toPlain } from './python.js';
import { buildTests } from './tests.js';
import { isUndefined, Undefined, UndefinedError } from './undefined.js';

export type VarLookup = (name: string) => unknown;

export interface TemplarOptions {
  /** Controller directories searched by file-type lookups (role files/, templates/, playbook dir). */
  searchPath?: () => string[];
  cwd?: string;
  warn?: (msg: string) => void;
}

/** Ansible 2.14's omit placeholder; the runner drops module args equal to it. */
export const OMIT: string = OMIT_VALUE;

const MARKERS = /\{\{|\{%|\{#/;

/** True when a string holds Jinja markers and so needs the engine. */
export function isTemplate(s: string): boolean {
  return MARKERS.test(s);
}

const SINGLE_VAR = /^\{\{\s*(\w*)\s*\}\}$/;

function isPlainObject(v: unknown): v is Dict {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function containsTemplate(v: unknown): boolean {
  if (typeof v === 'string') return isTemplate(v);
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (isPlainObject(v)) {
    for (const k in v) if (containsTemplate(v[k])) return true;
  }
  return false;
}

function countTrailingNewlines(s: string): number {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\n'; i--) n++;
  return n;
}

/** ansible_eval_concat: rendered text that looks like a list, dict or bool becomes one. */
function evalConcat(out: string): unknown {
  if (out.startsWith('{') || out.startsWith('[') || out === 'True' || out === 'False') {
    const v = literalEval(out);
    if (v !== undefined) return v;
  }
  return out;
}

/** Whether repr() then literal_eval() of v gives v back (plain data). */
function isLiteralData(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  if (v instanceof PyFloat) return true;
  if (Array.isArray(v)) return v.every(isLiteralData);
  if (isPlainObject(v)) return Object.values(v).every(isLiteralData);
  return false;
}

/** One top-level call's view of the variables: lazily templated, cached, cycle-checked. */
export class VarScope {
  private readonly cache = new Map<string, unknown>();
  private readonly active = new Set<string>();
  constructor(
    private readonly templar: Templar,
    readonly lookup: VarLookup,
  ) {}

  readonly resolve = (name: string): unknown => {
    if (this.cache.has(name)) return this.cache.get(name);
    let raw = this.lookup(name);
    // Inline `!vault` values are their plaintext (already registered for masking); `!unsafe`
    // values are plain strings that are never templated.
    if (raw instanceof VaultString) raw = raw.plaintext;
    else if (raw instanceof UnsafeString) {
      this.cache.set(name, raw.value);
      return raw.value;
    }
    if (raw === undefined || !containsTemplate(raw)) {
      if (raw !== undefined) this.cache.set(name, raw);
      return raw;
    }
    if (this.active.has(name)) {
      throw new TemplateError(
        `recursive loop detected in template string: ${typeof raw === 'string' ? raw : pyStr(raw)}`,
        { template: typeof raw === 'string' ? raw : pyStr(raw), hint: `variable '${name}' refers to itself` },
      );
    }
    this.active.add(name);
    try {
      const v = this.templar.templateIn(raw, this, true);
      this.cache.set(name, v);
      return v;
    } finally {
      this.active.delete(name);
    }
  };
}

interface Frame extends RenderFrame {
  scope: VarScope;
}

export class Templar {
  private readonly engine: JinjaEngine;
  private readonly cache = new Map<string, CompiledTemplate>();
  private readonly frames: Frame[] = [];
  readonly opts: TemplarOptions;

  constructor(opts: TemplarOptions = {}) {
    this.opts = opts;
    const filters = buildFilters(() => this.currentScope());
    const globals = buildGlobals({
      lookup: (name, terms, kw, wantList) => this.lookup(name, terms, kw, wantList),
    });
    this.engine = new JinjaEngine({
      filters,
      undefinedOkFilters,
      tests: buildTests({ cwd: () => this.opts.cwd ?? process.cwd() }),
      globals,
      resolveTemplate: (name, parent) => this.resolveTemplate(name, parent),
    });
  }

  /**
   * A template named by include/import: relative to the including template's dir first,
   * then the search path's templates/ dirs and the dirs themselves (as Ansible's loader).
   */
  private resolveTemplate(
    name: string,
    parent: string | undefined,
  ): { path: string; text: string } | undefined {
    const dirs: string[] = [];
    if (parent && isAbsolute(parent)) dirs.push(dirname(parent));
    for (const d of this.opts.searchPath?.() ?? [this.opts.cwd ?? process.cwd()])
      dirs.push(join(d, 'templates'), d);
    const candidates = isAbsolute(name) ? [name] : dirs.map((d) => join(d, name));
    for (const c of candidates) {
      try {
        // Jinja's loader drops one trailing newline (keep_trailing_newline is off).
        if (statSync(c).isFile()) return { path: c, text: readFileSync(c, 'utf8').replace(/\n$/, '') };
      } catch {
        // not there: next candidate
      }
    }
    return undefined;
  }

  /**
   * Controller dirs for file lookups and template includes: the task's `ansible_search_path`
   * (role dir, task file dir, playbook dir, set by the runner) when there is one.
   */
  private searchPath(): string[] {
    const f = this.frames[this.frames.length - 1];
    const sp = f?.scope.lookup('ansible_search_path');
    if (Array.isArray(sp) && sp.every((d) => typeof d === 'string')) return sp;
    return this.opts.searchPath?.() ?? [this.opts.cwd ?? process.cwd()];
  }

  private currentScope(): VarScope {
    const f = this.frames[this.frames.length - 1];
    if (!f) throw new Error('no active template scope');
    return f.scope;
  }

  private scopeOf(vars: VarLookup | Record<string, unknown>): VarScope {
    if (typeof vars === 'function') return new VarScope(this, vars);
    const rec = vars;
    return new VarScope(this, (name) => (Object.hasOwn(rec, name) ? rec[name] : undefined));
  }

  /** Recursively template strings inside value (lists, dicts) with Ansible's type rules. */
  template(
    value: unknown,
    vars: VarLookup | Record<string, unknown>,
    opts: { failOnUndefined?: boolean } = {},
  ): unknown {
    if (typeof value === 'string' && !isTemplate(value)) return value;
    return this.templateIn(value, this.scopeOf(vars), opts.failOnUndefined ?? true);
  }

  /** @internal templating within an existing scope (used for lazy variable resolution). */
  templateIn(value: unknown, scope: VarScope, failOnUndefined: boolean): unknown {
    if (typeof value === 'string') {
      if (!isTemplate(value)) return value;
      try {
        return this.templateString(value, scope);
      } catch (e) {
        if (!failOnUndefined && e instanceof TemplateError && e.undefinedName !== undefined) return value;
        throw e;
      }
    }
    if (Array.isArray(value)) return value.map((v) => this.templateIn(v, scope, failOnUndefined));
    if (isPlainObject(value)) {
      const out: Dict = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.templateIn(v, scope, failOnUndefined);
      return out;
    }
    return value;
  }

  private templateString(source: string, scope: VarScope): unknown {
    // Jinja's lexer drops one trailing newline (`"{{ x | to_json }}\n"` is a single node, so
    // its text stays text); Ansible appends the missing newlines to string results after.
    const src = source.endsWith('\n') ? source.slice(0, source.endsWith('\r\n') ? -2 : -1) : source;
    const single = SINGLE_VAR.exec(src);
    if (single?.[1] && src === source) {
      const raw = scope.lookup(single[1]);
      if (typeof raw === 'number' || typeof raw === 'boolean') return raw;
      if (raw === null) return null;
    }
    const compiled = this.compiled(src, { native: true, rawStrings: true });
    const { text, frame } = this.render(compiled, src, scope);
    let result: unknown;
    if (compiled.native) {
      const v = frame.captured;
      if (isUndefined(v)) throw translateError(new UndefinedError(v.message, v.name), src, false);
      if (v === null || v === undefined) result = '';
      else if (typeof v === 'string') result = compiled.textResult ? v : evalConcat(v);
      else if (isTuple(v)) result = pyStr(v);
      else if (typeof v === 'boolean') result = v;
      else if ((Array.isArray(v) || isPlainObject(v)) && isLiteralData(v)) result = toPlain(v);
      else result = pyStr(v);
    } else {
      result = evalConcat(text);
    }
    if (typeof result === 'string') {
      const missing = countTrailingNewlines(source) - countTrailingNewlines(result);
      if (missing > 0) result += '\n'.repeat(missing);
    }
    return result;
  }

  private compiled(
    src: string,
    opts: { native: boolean; rawStrings: boolean; name?: string | undefined },
  ): CompiledTemplate {
    // A template file's path is part of the key: its includes resolve relative to it.
    const key = `${opts.native ? 'n' : 's'}${opts.rawStrings ? 'r' : 'p'}${opts.name ?? ''}\0${src}`;
    let c = this.cache.get(key);
    if (!c) {
      try {
        c = this.engine.compile(
          src,
          opts.name ? { ...opts, name: opts.name } : { native: opts.native, rawStrings: opts.rawStrings },
        );
      } catch (e) {
        throw translateError(e, src, true);
      }
      if (this.cache.size > 20_000) this.cache.clear();
      this.cache.set(key, c);
    }
    return c;
  }

  private render(compiled: CompiledTemplate, src: string, scope: VarScope): { text: string; frame: Frame } {
    const frame: Frame = { resolve: scope.resolve, captured: undefined, hasCapture: false, scope };
    this.frames.push(frame);
    try {
      return { text: compiled.render(frame), frame };
    } catch (e) {
      throw translateError(e, src, false);
    } finally {
      this.frames.pop();
    }
  }

  /** Evaluate a bare expression (when:, that:, var:) to its native value. */
  evaluate(expr: string, vars: VarLookup | Record<string, unknown>): unknown {
    const src = `{{ ${expr} }}`;
    const compiled = this.compiled(src, { native: true, rawStrings: false });
    const { frame } = this.render(compiled, src, this.scopeOf(vars));
    const v = frame.captured;
    if (isUndefined(v)) v.fail();
    return toPlain(v);
  }

  /** Ansible conditional: strings are expressions (no {{ }}), bools pass, results coerced to bool. */
  condition(expr: unknown, vars: VarLookup | Record<string, unknown>): boolean {
    if (typeof expr === 'boolean') return expr;
    if (expr === null || expr === undefined || expr === '') return true;
    if (typeof expr !== 'string')
      return Boolean(toPlain(expr)) && (typeof expr !== 'object' || Object.keys(expr as object).length > 0);
    const scope = this.scopeOf(vars);
    let cond: unknown = expr;
    try {
      if (isTemplate(expr)) {
        this.opts.warn?.(
          `conditional statements should not include jinja2 templating delimiters such as {{ }} or {% %}. Found: ${expr}`,
        );
        cond = this.templateIn(expr, scope, true);
        if (typeof cond !== 'string' || cond === '') return Boolean(cond);
      }
      const src = `{% if ${cond as string} %}True{% else %}False{% endif %}`;
      const compiled = this.compiled(src, { native: false, rawStrings: false });
      const { text } = this.render(compiled, src, scope);
      return text === 'True';
    } catch (e) {
      if (e instanceof TemplateError) {
        const err = new TemplateError(
          `The conditional check '${expr}' failed. The error was: error while evaluating conditional (${expr}): ${e.message}`,
          {
            template: expr,
            ...(e.undefinedName !== undefined ? { undefinedName: e.undefinedName } : {}),
            ...(e.line !== undefined ? { line: e.line } : {}),
          },
        );
        throw err;
      }
      throw e;
    }
  }

  /** The template module: Ansible's template_* vars, trim_blocks, plain string output. */
  renderTemplateFile(
    text: string,
    vars: VarLookup | Record<string, unknown>,
    opts: { path: string },
  ): string {
    const base = this.scopeOf(vars).lookup;
    const now = new Date();
    const tvars: Dict = {
      template_host: hostname(),
      template_path: opts.path,
      template_fullpath: opts.path,
      template_destpath: null,
      template_uid: process.getuid ? String(process.getuid()) : '0',
      template_run_date: now,
      template_mtime: now,
      ansible_managed: 'Ansible managed',
    };
    const scope = new VarScope(this, (name) => (Object.hasOwn(tvars, name) ? tvars[name] : base(name)));
    const compiled = this.compiled(text, { native: false, rawStrings: false, name: opts.path || undefined });
    const { text: out } = this.render(compiled, text, scope);
    const missing = countTrailingNewlines(text) - countTrailingNewlines(out);
    return missing > 0 ? out + '\n'.repeat(missing) : out;
  }

  /** Render a template string with the current call's scope (the `template` lookup). */
  renderWithCurrentScope(text: string): string {
    const scope = this.currentScope();
    const compiled = this.compiled(text, { native: false, rawStrings: false });
    return this.render(compiled, text, scope).text;
  }

  private lookup(name: string, terms: unknown[], kw: Dict, wantList: boolean): unknown {
    const scope = this.currentScope();
    const ctx: LookupContext = {
      searchPath: this.searchPath(),
      cwd: this.opts.cwd ?? process.cwd(),
      resolve: scope.resolve,
      renderTemplate: (text) => this.renderWithCurrentScope(text),
      warn: (m) => this.opts.warn?.(m),
    };
    return runLookup(name, terms, kw, wantList, ctx);
  }
}

interface NjError {
  lineno?: number;
  colno?: number;
  cause?: unknown;
  message: string;
}

function translateError(e: unknown, src: string, syntax: boolean): Error {
  if (e instanceof TemplateError) return e;
  let root: unknown = e;
  while (root && typeof root === 'object' && (root as NjError).cause && !(root instanceof UndefinedError)) {
    if (root instanceof TemplateError) return root;
    root = (root as NjError).cause;
  }
  if (root instanceof TemplateError) return root;
  const nj = e as NjError;
  const line = typeof nj.lineno === 'number' && nj.lineno > 0 ? nj.lineno : undefined;
  const lineOpt = line !== undefined && src.includes('\n') ? { line } : {};
  if (root instanceof UndefinedError) {
    return new TemplateError(root.message, {
      template: src,
      ...(root.undefinedName !== undefined ? { undefinedName: root.undefinedName } : {}),
      ...lineOpt,
      hint: root.undefinedName
        ? `define '${root.undefinedName}' (vars, defaults, facts) or give it a default: {{ ${root.undefinedName} | default(...) }}`
        : 'guard the expression with "is defined" or the default filter',
    });
  }
  const msg = (root instanceof Error ? root.message : String(root)).replace(
    /^\(.*?\)( \[Line \d+, Column \d+\])?\s*/s,
    '',
  );
  const clean = msg.replace(/^(Template render error: )?/, '').replace(/^Error: /, '');
  if (syntax) {
    return new TemplateError(`template error while templating string: ${clean}. String: ${src}`, {
      template: src,
      ...lineOpt,
    });
  }
  const kind =
    root instanceof Error && root.name !== 'Error' && root.name !== 'Template render error'
      ? `${root.name}: `
      : '';
  return new TemplateError(
    `Unexpected templating error while templating string: ${kind}${clean}. String: ${src}`,
    {
      template: src,
      ...lineOpt,
    },
  );
}

export { Undefined };
