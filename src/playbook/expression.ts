/**
 * A syntax-only check of the Jinja in conditionals (`when`, `changed_when`, `failed_when`,
 * `until`, `assert.that`), done with nunjucks' parser so a typo is reported at load time
 * with the task's position. Nothing is evaluated; the template engine does that per host.
 */
import nunjucks from 'nunjucks';
import { didYouMean } from '../errors.js';
import { buildFilters } from '../template/filters.js';
import { buildTests } from '../template/tests.js';

/** nunjucks exports its parser at run time, but @types/nunjucks does not declare it. */
const parser = (
  nunjucks as unknown as { parser: { parse(src: string, ext: unknown[], opts: object): unknown } }
).parser;

/** Index of the bracket closing the one at `open`, skipping strings; -1 when unbalanced. */
function matchingBracket(expr: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(' || c === '{') depth++;
    else if (c === ']' || c === ')' || c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Split at top-level colons (a slice `a:b:c`), skipping strings and nested brackets. */
function sliceParts(inner: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let last = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(' || c === '{') depth++;
    else if (c === ']' || c === ')' || c === '}') depth--;
    else if (c === ':' && depth === 0) {
      parts.push(inner.slice(last, i));
      last = i + 1;
    }
  }
  parts.push(inner.slice(last));
  return parts;
}

/**
 * Rewrite the Jinja that nunjucks' parser lacks into equivalent syntax it has, keeping
 * every sub-expression so its syntax is still checked: `item.0` (attribute by digit)
 * becomes `item[0]`, a slice `x[a:b]` becomes `x[(a)+(b)]`. Strings are left alone.
 */
export function toNunjucksSyntax(expr: string): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      out += c;
      if (c === '\\') {
        out += expr[i + 1] ?? '';
        i++;
      } else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      out += c;
      continue;
    }
    const postfix = /(?:[A-Za-z_]\w*|[\])])\s*$/.test(out);
    const m = c === '.' && /^\.(\d+)(?!\w)/.exec(expr.slice(i));
    if (m && postfix) {
      out += `[${m[1]}]`;
      i += m[0].length - 1;
      continue;
    }
    if (c === '[' && postfix) {
      const close = matchingBracket(expr, i);
      if (close > 0) {
        const parts = sliceParts(expr.slice(i + 1, close));
        if (parts.length > 1) {
          out += `[${parts.map((p) => `(${p.trim() === '' ? '0' : toNunjucksSyntax(p)})`).join('+')}]`;
          i = close;
          continue;
        }
      }
    }
    out += c;
  }
  return out;
}

/** Playbooks repeat the same conditionals; parse each text once per process. */
const parsed = new Map<string, string | undefined>();

function parseError(text: string): string | undefined {
  if (parsed.has(text)) return parsed.get(text);
  const err = parseErrorUncached(text);
  if (parsed.size < 10_000) parsed.set(text, err);
  return err;
}

function parseErrorUncached(text: string): string | undefined {
  try {
    parser.parse(toNunjucksSyntax(text), [], {});
    return undefined;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // Jinja extensions Ansible enables (`{% do %}`, `{% break %}`) are unknown to nunjucks:
    // not knowing a tag is no proof of an error, so only real syntax errors are reported.
    if (/unknown block tag/.test(msg)) return undefined;
    // nunjucks throws a TypeError when the input ends inside a string literal.
    if (e instanceof TypeError) return 'unexpected end of template (an unclosed string or bracket?)';
    return msg
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('(unknown path)'))
      .join(' ')
      .replace(/^Template render error: /, '')
      .replace(/\s*\[Line \d+, Column \d+\]\s*/, ' ')
      .trim();
  }
}

/**
 * Check a conditional as Ansible uses it: a bare expression (`x is defined`), or text
 * with `{{ }}` that Ansible templates first. Returns the parser's complaint, or undefined.
 */
export function conditionalSyntaxError(cond: unknown): string | undefined {
  if (typeof cond !== 'string') return undefined;
  if (cond.includes('{{') || cond.includes('{%')) return parseError(cond);
  if (cond.trim() === '') return undefined;
  return parseError(`{{ (${cond}\n) }}`);
}

/** Check a value that may hold `{{ }}` templates (e.g. `loop: "{{ x | bad( }}"`). */
export function templateSyntaxError(value: unknown): string | undefined {
  if (typeof value !== 'string' || !(value.includes('{{') || value.includes('{%'))) return undefined;
  return parseError(value);
}

/** Filter and test names drover's template engine knows (built once). */
let known: { filters: Set<string>; tests: Set<string> } | undefined;
function knownNames(): { filters: Set<string>; tests: Set<string> } {
  known ??= {
    filters: new Set(Object.keys(buildFilters(() => undefined as never))),
    tests: new Set([
      ...Object.keys(buildTests({ cwd: () => process.cwd() })),
      'none',
      'true',
      'false',
      'null',
    ]),
  };
  return known;
}

export interface UnknownName {
  kind: 'filter' | 'test';
  name: string;
  /** The closest known name, when the unknown one looks like a typo of it. */
  guess?: string;
}

/**
 * Filters and tests a template uses that the engine does not know. Only plain names are
 * checked (`ns.coll.filter` may come from a collection); text that does not parse gives
 * nothing here (the syntax check reports it).
 */
export function unknownFilterOrTest(text: string, bare = false): UnknownName[] {
  if (!bare && !(text.includes('{{') || text.includes('{%'))) return [];
  let ast: unknown;
  try {
    ast = parser.parse(toNunjucksSyntax(bare ? `{{ (${text}\n) }}` : text), [], {});
  } catch {
    return [];
  }
  const k = knownNames();
  const out: UnknownName[] = [];
  const seen = new Set<unknown>();
  const nameOf = (n: unknown): string | undefined => {
    const node = n as { typename?: string; value?: unknown; name?: unknown } | undefined;
    if (!node) return undefined;
    if (node.typename === 'Symbol' || node.typename === 'Literal') return String(node.value);
    if (node.typename === 'FunCall') return nameOf(node.name);
    return undefined;
  };
  const visit = (n: unknown): void => {
    if (!n || typeof n !== 'object' || seen.has(n)) return;
    seen.add(n);
    const node = n as Record<string, unknown>;
    if (node.typename === 'Filter') {
      const name = nameOf(node.name);
      if (name && !name.includes('.') && !k.filters.has(name)) out.push(unknown('filter', name, k.filters));
    } else if (node.typename === 'Is') {
      const name = nameOf(node.right);
      if (name && !name.includes('.') && !k.tests.has(name)) out.push(unknown('test', name, k.tests));
    }
    for (const v of Object.values(node)) {
      if (Array.isArray(v)) for (const x of v) visit(x);
      else if (v && typeof v === 'object') visit(v);
    }
  };
  visit(ast);
  return out;
}

function unknown(kind: 'filter' | 'test', name: string, known: Set<string>): UnknownName {
  const guess = didYouMean(name, known);
  return guess ? { kind, name, guess } : { kind, name };
}
