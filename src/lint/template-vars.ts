/**
 * The variables a Jinja text reads, found with nunjucks' parser (the one the engine and the
 * playbook validator use), for `drover lint`'s undefined-variable rule. Only what could fail
 * as undefined is reported: names the template binds itself (`{% set %}`, `{% for %}`,
 * macros, imports), names guarded by `is defined` / `is undefined` / `default`, filter, test
 * and global function names are left out. A text the parser cannot read gives `undefined`:
 * no proof either way.
 */
import nunjucks from 'nunjucks';
import { toNunjucksSyntax } from '../playbook/expression.js';

/** nunjucks exports its parser at run time, but @types/nunjucks does not declare it. */
const parser = (
  nunjucks as unknown as { parser: { parse(src: string, ext: unknown[], opts: object): NjNode } }
).parser;

interface NjNode {
  typename: string;
  lineno: number;
  colno: number;
  fields?: string[];
  children?: NjNode[];
  value?: unknown;
  [k: string]: unknown;
}

export interface VarRef {
  name: string;
  /** 0-based line and column in the parsed text. */
  line: number;
  col: number;
}

export interface TemplateVars {
  /** Free variables, in order of appearance (a name may appear more than once). */
  refs: VarRef[];
  /** Names this text guards: `x is defined`, `x is undefined`, `x | default(...)`. */
  guarded: Set<string>;
}

const GUARD_TESTS = new Set(['defined', 'undefined']);
const GUARD_FILTERS = new Set(['default', 'd']);
/** Names Jinja itself binds inside templates. */
const JINJA_NAMES = new Set([
  'loop',
  'varargs',
  'kwargs',
  'caller',
  'self',
  'super',
  'true',
  'false',
  'none',
  'True',
  'False',
  'None',
]);

function isNode(v: unknown): v is NjNode {
  return v !== null && typeof v === 'object' && typeof (v as NjNode).typename === 'string';
}

function childNodes(n: NjNode): NjNode[] {
  const out: NjNode[] = [];
  for (const f of n.fields ?? []) {
    if (f === 'children') continue;
    const c = n[f];
    if (isNode(c)) out.push(c);
    // Compare keeps its operands in an array field (`ops`).
    else if (Array.isArray(c)) for (const x of c) if (isNode(x)) out.push(x);
  }
  for (const c of n.children ?? []) if (isNode(c)) out.push(c);
  return out;
}

function symbolName(n: unknown): string | undefined {
  return isNode(n) && n.typename === 'Symbol' && typeof n.value === 'string' ? n.value : undefined;
}

/** The root variable a guarded expression reads (`a.b.c is defined` guards `a`). */
function rootName(n: unknown): string | undefined {
  let cur = n;
  while (isNode(cur) && cur.typename === 'LookupVal') cur = cur.target;
  return symbolName(cur);
}

function bindTargets(n: unknown, bound: Set<string>): void {
  const s = symbolName(n);
  if (s) bound.add(s);
  else if (isNode(n)) for (const c of childNodes(n)) bindTargets(c, bound);
}

/** Names the template binds anywhere (scoping is ignored: fewer reports, never a false one). */
function collectBound(n: NjNode, bound: Set<string>): void {
  switch (n.typename) {
    case 'Set':
      for (const t of (n.targets as NjNode[] | undefined) ?? []) bindTargets(t, bound);
      break;
    case 'For':
    case 'AsyncEach':
    case 'AsyncAll':
      bindTargets(n.name, bound);
      break;
    case 'Macro':
    case 'Caller':
      bindTargets(n.name, bound);
      bindTargets(n.args, bound);
      break;
    case 'Import':
      bindTargets(n.target, bound);
      break;
    case 'FromImport':
      for (const c of childNodes(n.names as NjNode)) {
        // `{% from x import a as b %}`: a Pair(a, b), or a bare Symbol.
        if (c.typename === 'Pair') bindTargets(c.value, bound);
        else bindTargets(c, bound);
      }
      break;
  }
  for (const c of childNodes(n)) collectBound(c, bound);
}

function collectRefs(n: NjNode, out: TemplateVars): void {
  switch (n.typename) {
    case 'Symbol': {
      const name = symbolName(n);
      if (name) out.refs.push({ name, line: n.lineno, col: n.colno });
      return;
    }
    case 'Is': {
      const test = symbolName(n.right) ?? (isNode(n.right) ? symbolName(n.right.name) : undefined);
      const root = rootName(n.left);
      if (test && GUARD_TESTS.has(test)) {
        if (root) out.guarded.add(root);
        return;
      }
      if (isNode(n.left)) collectRefs(n.left, out);
      // The test's own arguments (`x is sameas y`) are expressions; its name is not a variable.
      if (isNode(n.right) && n.right.typename === 'FunCall' && isNode(n.right.args))
        collectRefs(n.right.args, out);
      return;
    }
    case 'Filter':
    case 'FilterAsync': {
      const name = symbolName(n.name);
      const args = isNode(n.args) ? (n.args.children ?? []) : [];
      if (name && GUARD_FILTERS.has(name)) {
        const root = rootName(args[0]);
        if (root) out.guarded.add(root);
        for (const a of args.slice(1)) collectRefs(a, out);
        return;
      }
      for (const a of args) collectRefs(a, out);
      return;
    }
    case 'FunCall': {
      // A call of a name (`lookup(...)`, a macro) reads no variable by that name here; a
      // call of an expression (`x.items()`) reads x.
      if (!symbolName(n.name) && isNode(n.name)) collectRefs(n.name, out);
      if (isNode(n.args)) collectRefs(n.args, out);
      return;
    }
    case 'KeywordArgs':
      for (const c of n.children ?? [])
        if (c.typename === 'Pair' && isNode(c.value)) collectRefs(c.value, out);
      return;
    case 'Include':
    case 'Import':
    case 'FromImport':
      if (isNode(n.template)) collectRefs(n.template, out);
      return;
  }
  for (const c of childNodes(n)) collectRefs(c, out);
}

/**
 * The free variables of `text`: a template (`mode: 'template'`, the `{{ }}` text of most
 * values) or a bare expression (`mode: 'expression'`: `when`, `that`, `until`, ...).
 * Positions of an expression are in the expression's own text.
 */
export function templateVars(text: string, mode: 'template' | 'expression'): TemplateVars | undefined {
  const isTemplate = text.includes('{{') || text.includes('{%');
  const src = mode === 'expression' && !isTemplate ? `{{ (${text}\n) }}` : text;
  const shift = src === text ? 0 : 4;
  let root: NjNode;
  try {
    // `item.0` and slices are Jinja that nunjucks lacks: the same rewrite the validator uses.
    root = parser.parse(toNunjucksSyntax(src), [], {});
  } catch {
    return undefined;
  }
  const bound = new Set<string>();
  collectBound(root, bound);
  const all: TemplateVars = { refs: [], guarded: new Set() };
  collectRefs(root, all);
  const refs = all.refs
    .filter((r) => !bound.has(r.name) && !JINJA_NAMES.has(r.name))
    .map((r) => (shift && r.line === 0 ? { ...r, col: r.col - shift } : r));
  return { refs, guarded: all.guarded };
}
