/**
 * Lookup plugins (`lookup(name, *terms, **kw)`, `query`/`q`). Controller-side: they read the
 * controller's files, environment and commands, like Ansible's. File-type lookups search the
 * directories the caller passes (role files/ and templates/, the playbook dir).
 */
import { execSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { searchPathGlob } from '../util/fnmatch.js';
import { attrPath } from './filters.js';
import { type Dict, isDict, num, percentFormat, pyStr, truthy, typeName } from './python.js';
import { Undefined } from './undefined.js';

export interface LookupContext {
  searchPath: string[];
  cwd: string;
  resolve(name: string): unknown;
  renderTemplate(text: string): string;
  warn(msg: string): void;
}

export class LookupError extends Error {
  override name = 'AnsibleLookupError';
}

type Lookup = (terms: unknown[], kw: Dict, ctx: LookupContext) => unknown[];

function findFile(ctx: LookupContext, subdir: string, term: string): string | undefined {
  if (isAbsolute(term)) return existsSync(term) ? term : undefined;
  for (const dir of ctx.searchPath) {
    for (const cand of [join(dir, subdir, term), join(dir, term)]) if (existsSync(cand)) return cand;
  }
  const c = resolve(ctx.cwd, term);
  return existsSync(c) ? c : undefined;
}

/** "a=1 b='x y'" as Ansible's parse_kv splits a lookup term. */
function parseKv(term: string): { params: Dict; rest: string[] } {
  const params: Dict = {};
  const rest: string[] = [];
  for (const m of term.matchAll(/(\w+)=("[^"]*"|'[^']*'|\S+)|(\S+)/g)) {
    if (m[1]) params[m[1]] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
    else rest.push(m[3]!);
  }
  return { params, rest };
}

const CHARSETS: Record<string, string> = {
  ascii_letters: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ascii_lowercase: 'abcdefghijklmnopqrstuvwxyz',
  ascii_uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  hexdigits: '0123456789abcdefABCDEF',
  octdigits: '01234567',
  punctuation: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
};

function passwordLookup(terms: unknown[], kw: Dict, ctx: LookupContext): unknown[] {
  return terms.map((t) => {
    const { params, rest } = parseKv(pyStr(t));
    const opts = { ...params, ...kw };
    const rel = rest.join(' ');
    if (!rel) throw new LookupError('password lookup needs a file path');
    const length = num(Number(opts.length ?? 20));
    const charNames =
      opts.chars === undefined
        ? ['ascii_letters', 'digits', '.,:-_']
        : Array.isArray(opts.chars)
          ? (opts.chars as unknown[]).map(pyStr)
          : pyStr(opts.chars).split(',');
    const alphabet = [...new Set(charNames.map((c) => CHARSETS[c] ?? c).join(''))].join('');
    const gen = () => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
    if (rel === '/dev/null') return gen();
    const file = isAbsolute(rel) ? rel : resolve(ctx.searchPath[0] ?? ctx.cwd, rel);
    if (existsSync(file)) {
      const content = readFileSync(file, 'utf8').replace(/\n$/, '');
      return content.replace(/ salt=\S+$/, '').replace(/ ident=\S+$/, '');
    }
    const pw = gen();
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${pw}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return pw;
  });
}

function sequenceLookup(terms: unknown[], kw: Dict): unknown[] {
  const out: unknown[] = [];
  for (const t of terms) {
    const s = pyStr(t).trim();
    let start = 1;
    let end: number | undefined;
    let stride = 1;
    let fmt = '%d';
    let count: number | undefined;
    const short =
      /^(?:(0x[0-9a-f]+|0o?[0-7]+|\d+)-)?(0x[0-9a-f]+|0o?[0-7]+|\d+)(?:\/(\d+))?(?::(.+))?$/i.exec(s);
    const asNum = (x: string) =>
      x.startsWith('0x')
        ? Number.parseInt(x, 16)
        : /^0o?[0-7]+$/.test(x) && x.length > 1
          ? Number.parseInt(x.replace(/^0o?/, ''), 8)
          : Number(x);
    if (short && !s.includes('=')) {
      if (short[1]) start = asNum(short[1]);
      end = asNum(short[2]!);
      if (short[3]) stride = Number(short[3]);
      if (short[4]) fmt = short[4];
    } else {
      const { params } = parseKv(s);
      const p = { ...params, ...kw };
      if (p.start !== undefined) start = asNum(pyStr(p.start));
      if (p.end !== undefined) end = asNum(pyStr(p.end));
      if (p.count !== undefined) count = asNum(pyStr(p.count));
      if (p.stride !== undefined) stride = Number(p.stride);
      if (p.format !== undefined) fmt = pyStr(p.format);
    }
    if (count !== undefined) {
      if (end !== undefined) throw new LookupError("can't specify both count and end in with_sequence");
      end = start + (count - 1) * stride;
      if (count === 0) continue;
    }
    if (end === undefined) throw new LookupError('must specify count or end in with_sequence');
    if (stride === 0) continue;
    if (stride > 0 && end < start) throw new LookupError('to count backwards make stride negative');
    if (stride < 0 && end > start) throw new LookupError("to count forward don't make stride negative");
    for (let i = start; stride > 0 ? i <= end : i >= end; i += stride) out.push(percentFormat(fmt, i));
  }
  return out;
}

function flat1(terms: unknown[]): unknown[] {
  return terms.flatMap((t) => (Array.isArray(t) ? t : [t]));
}

const lookups: Record<string, Lookup> = {
  file: (terms, kw, ctx) =>
    terms.map((t) => {
      const f = findFile(ctx, 'files', pyStr(t));
      if (!f) throw new LookupError(`could not locate file in lookup: ${pyStr(t)}`);
      let s = readFileSync(f, 'utf8');
      if (truthy(kw.rstrip ?? true)) s = s.replace(/\s+$/, '');
      if (truthy(kw.lstrip ?? false)) s = s.replace(/^\s+/, '');
      return s;
    }),
  template: (terms, _kw, ctx) =>
    terms.map((t) => {
      const f = findFile(ctx, 'templates', pyStr(t));
      if (!f) throw new LookupError(`the template file ${pyStr(t)} could not be found for the lookup`);
      return ctx.renderTemplate(readFileSync(f, 'utf8'));
    }),
  env: (terms, kw) => terms.map((t) => process.env[pyStr(t)] ?? (kw.default !== undefined ? kw.default : '')),
  pipe: (terms, _kw, ctx) =>
    terms.map((t) => {
      try {
        return execSync(pyStr(t), {
          cwd: ctx.cwd,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }).replace(/\s+$/, '');
      } catch (e) {
        throw new LookupError(
          `lookup_plugin.pipe(${pyStr(t)}) returned ${(e as { status?: number }).status ?? 1}`,
        );
      }
    }),
  lines: (terms, _kw, ctx) =>
    terms.flatMap((t) => {
      try {
        return execSync(pyStr(t), { cwd: ctx.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
          .split('\n')
          .filter((_l, i, a) => i < a.length - 1 || a[i] !== '');
      } catch (e) {
        throw new LookupError(
          `lookup_plugin.lines(${pyStr(t)}) returned ${(e as { status?: number }).status ?? 1}`,
        );
      }
    }),
  vars: (terms, kw, ctx) =>
    terms.map((t) => {
      const v = ctx.resolve(pyStr(t));
      if (v === undefined) {
        if (kw.default !== undefined) return kw.default;
        throw new LookupError(`No variable found with this name: ${pyStr(t)}`);
      }
      return v;
    }),
  items: (terms) => flat1(terms),
  list: (terms) => terms,
  fileglob: (terms, _kw, ctx) => terms.flatMap((t) => searchPathGlob(pyStr(t), ctx.searchPath)),
  first_found: (terms, kw, ctx) => {
    // Ansible 2.14's _process_terms, quirks included: a string term takes its files/paths
    // from the keyword options (which then replace the term), a mapping term from itself,
    // and keyword options with no term at all search nothing.
    const split = (x: unknown, seps: RegExp): string[] =>
      x === undefined || x === null
        ? []
        : (Array.isArray(x) ? x : [x]).flatMap((e) => pyStr(e).split(seps)).filter(Boolean);
    const processTerms = (list: unknown[]): [string[], boolean] => {
      let total: string[] = [];
      let skip = false;
      for (const term of list) {
        let opts: Record<string, unknown>;
        if (isDict(term)) opts = term;
        else if (typeof term === 'string') opts = kw;
        else if (Array.isArray(term)) {
          const [partial, s] = processTerms(term);
          total.push(...partial);
          skip = s;
          continue;
        } else
          throw new LookupError(
            `Invalid term supplied, can handle string, mapping or list of strings but got: ${typeName(term)} for ${pyStr(term)}`,
          );
        const files = split(opts.files, /[,;]/);
        const paths = split(opts.paths, /[,:;]/);
        skip = truthy(opts.skip ?? false);
        if (paths.length > 0) for (const p of paths) for (const fn of files) total.push(join(p, fn));
        else if (files.length > 0) total = files;
        else if (typeof term === 'string') total.push(term);
      }
      return [total, skip];
    };
    const [search, skip] = processTerms(terms);
    for (const f of search) {
      const found = findFile(ctx, 'files', f);
      if (found) return [found];
    }
    if (skip) return [];
    throw new LookupError('No file was found when using first_found.');
  },
  dict: (terms) =>
    terms.flatMap((t) => {
      if (!isDict(t)) throw new LookupError(`with_dict expects a dict, got ${pyStr(t)}`);
      return Object.entries(t).map(([key, value]) => ({ key, value }));
    }),
  indexed_items: (terms) => flat1(terms).map((x, i) => [i, x]),
  sequence: sequenceLookup,
  subelements: (terms, kw) => {
    const [list, key, flags] = terms;
    const skip = truthy(kw.skip_missing ?? (isDict(flags) ? flags.skip_missing : false));
    const items = isDict(list) ? Object.values(list) : (list as unknown[]);
    const out: unknown[] = [];
    for (const el of items) {
      if (isDict(el) && truthy(el.skipped ?? false)) continue;
      const sub = attrPath(el, key);
      if (sub instanceof Undefined) {
        if (skip) continue;
        throw new LookupError(`could not find '${pyStr(key)}' key in iterated item '${pyStr(el)}'`);
      }
      if (!Array.isArray(sub))
        throw new LookupError(`the key ${pyStr(key)} should point to a list, got '${pyStr(sub)}'`);
      for (const s of sub) out.push([el, s]);
    }
    return out;
  },
  together: (terms) => {
    const lists = terms.map((t) => (Array.isArray(t) ? t : [t]));
    const n = Math.max(0, ...lists.map((l) => l.length));
    return Array.from({ length: n }, (_, i) => lists.map((l) => (i < l.length ? l[i] : null)));
  },
  nested: (terms) => {
    const lists = terms.map((t) => (Array.isArray(t) ? t : [t]));
    return lists.reduce<unknown[][]>((acc, l) => acc.flatMap((p) => l.map((x) => [...p, x])), [[]]);
  },
  random_choice: (terms) => {
    const items = flat1(terms);
    return items.length ? [items[randomInt(items.length)]] : [];
  },
  password: passwordLookup,
  config: (terms, kw) => terms.map((t) => (kw.default !== undefined ? kw.default : pyStr(t))),
};

export const lookupNames = Object.keys(lookups);

export function runLookup(
  name: string,
  terms: unknown[],
  kw: Dict,
  wantList: boolean,
  ctx: LookupContext,
): unknown {
  const short = name.replace(/^ansible\.builtin\./, '');
  const plugin = lookups[short];
  if (!plugin) throw new LookupError(`lookup plugin (${name}) not found`);
  const errors = pyStr(kw.errors ?? 'strict');
  const rest = { ...kw };
  delete rest.errors;
  let ran: unknown[];
  try {
    ran = plugin(terms, rest, ctx);
  } catch (e) {
    if (errors === 'ignore') return wantList ? [] : null;
    if (errors === 'warn') {
      ctx.warn(
        `An unhandled exception occurred while running the lookup plugin '${name}'. Error was a ${(e as Error).name}, original message: ${(e as Error).message}`,
      );
      return wantList ? [] : null;
    }
    throw e;
  }
  if (wantList) return ran;
  if (ran.every((x) => typeof x === 'string')) return ran.join(',');
  return ran.length === 1 ? ran[0] : ran;
}
