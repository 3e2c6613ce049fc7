/**
 * Jinja2 builtin filters and Ansible's core filters (ansible.builtin.*), with the semantics of
 * their Python implementations. Each takes (value, positional args, keyword args).
 */
import { createHash, randomInt } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { posix as path } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { passwordHash } from './crypt.js';
import type { FilterFn } from './engine.js';
import { pyJsonDumps } from './json.js';
import { getAttr, pyCapitalize, pyTitle } from './methods.js';
import {
  compare,
  type Dict,
  isDict,
  isFloat,
  isNumber,
  makeFloat,
  makeTuple,
  num,
  percentFormat,
  pyAdd,
  pyEq,
  pyIter,
  pyRepr,
  pyStr,
  truthy,
  typeName,
} from './python.js';
import { pyRegex, pyReplacement } from './regex.js';
import type { VarScope } from './templar.js';
import { isUndefined, Undefined } from './undefined.js';
import { dumpYaml } from './yaml.js';

export class FilterError extends Error {
  override name = 'AnsibleFilterError';
}

/** Filters that look at an Undefined input instead of failing on it. */
export const undefinedOkFilters = new Set(['default', 'd', 'mandatory', 'type_debug']);

function str(v: unknown): string {
  return pyStr(v);
}

/** Jinja's attribute paths: 'a.b.0' walks dicts and list indexes. */
export function attrPath(obj: unknown, attr: unknown): unknown {
  if (isNumber(attr)) return getAttr(obj, attr);
  let cur = obj;
  for (const part of str(attr).split('.')) {
    cur = getAttr(cur, /^\d+$/.test(part) && Array.isArray(cur) ? Number(part) : part);
  }
  return cur;
}

function toInt(v: unknown, dflt = 0, base = 10): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (isNumber(v)) return Math.trunc(num(v));
  const s = str(v).trim().replace(/_/g, '');
  if (base === 10) {
    if (/^[-+]?\d+$/.test(s)) return Number.parseInt(s, 10);
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Math.trunc(Number(s));
    return dflt;
  }
  const body = s.replace(/^0[xob]/i, '');
  const n = Number.parseInt(body, base);
  return Number.isNaN(n) ? dflt : n;
}

function toFloat(v: unknown, dflt: unknown = 0): unknown {
  if (typeof v === 'boolean') return makeFloat(v ? 1 : 0);
  if (isNumber(v)) return makeFloat(num(v));
  const s = str(v).trim().toLowerCase();
  if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/.test(s)) return makeFloat(Number(s));
  if (/^[-+]?(inf|infinity)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (s === 'nan') return Number.NaN;
  return makeFloat(num(dflt));
}

/** Ansible's bool filter: yes/on/1/true/y/t are True, everything else False. */
export function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === null || v === undefined) return false;
  const s = str(v).toLowerCase().trim();
  return ['yes', 'on', '1', 'true', 'y', 't', '1.0'].includes(s);
}

function sortKey(v: unknown, caseSensitive: boolean): unknown {
  return typeof v === 'string' && !caseSensitive ? v.toLowerCase() : v;
}

function pySort<T>(items: T[], key: (x: T) => unknown, reverse: boolean): T[] {
  const out = [...items];
  out.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (pyEq(ka, kb)) return 0;
    return compare(ka, '<', kb) ? -1 : 1;
  });
  if (reverse) out.reverse();
  return out;
}

function unique(items: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const x of items) if (!out.some((y) => pyEq(x, y))) out.push(x);
  return out;
}

function seq(v: unknown): unknown[] {
  return pyIter(v);
}

function merge(a: Dict, b: Dict, recursive: boolean, listMerge: string): Dict {
  const out: Dict = { ...a };
  for (const [k, bv] of Object.entries(b)) {
    const av = out[k];
    if (recursive && isDict(av) && isDict(bv)) {
      out[k] = merge(av, bv, true, listMerge);
    } else if (Array.isArray(av) && Array.isArray(bv) && listMerge !== 'replace') {
      switch (listMerge) {
        case 'keep':
          break;
        case 'append':
          out[k] = [...av, ...bv];
          break;
        case 'prepend':
          out[k] = [...bv, ...av];
          break;
        case 'append_rp':
          out[k] = [...av.filter((x) => !bv.some((y) => pyEq(x, y))), ...bv];
          break;
        case 'prepend_rp':
          out[k] = [...bv, ...av.filter((x) => !bv.some((y) => pyEq(x, y)))];
          break;
        default:
          throw new FilterError(`'${listMerge}' is not a valid list_merge value`);
      }
    } else {
      out[k] = bv;
    }
  }
  return out;
}

function flatten(v: unknown[], levels: number | null, skipNulls: boolean): unknown[] {
  const out: unknown[] = [];
  for (const x of v) {
    if (skipNulls && (x === null || x === 'None' || x === 'null')) continue;
    if (Array.isArray(x) && (levels === null || levels > 0)) {
      out.push(...flatten(x, levels === null ? null : levels - 1, skipNulls));
    } else out.push(x);
  }
  return out;
}

function b64encode(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

function commentFilter(text: string, style: string, kw: Dict): string {
  const styles: Record<
    string,
    {
      beginning?: string;
      decoration: string;
      end?: string;
      prefix: string;
      prefix_count: number;
      postfix: string;
      postfix_count: number;
    }
  > = {
    plain: { decoration: '# ', prefix: '', prefix_count: 1, postfix: '', postfix_count: 1 },
    erlang: { decoration: '% ', prefix: '', prefix_count: 1, postfix: '', postfix_count: 1 },
    c: { decoration: '// ', prefix: '', prefix_count: 1, postfix: '', postfix_count: 1 },
    cblock: {
      beginning: '/*',
      decoration: ' * ',
      end: ' */',
      prefix: '',
      prefix_count: 1,
      postfix: '',
      postfix_count: 1,
    },
    xml: {
      beginning: '<!--',
      decoration: ' - ',
      end: '-->',
      prefix: '',
      prefix_count: 1,
      postfix: '',
      postfix_count: 1,
    },
  };
  const p = { ...(styles[style] ?? styles.plain!), ...(kw as object) } as typeof styles.plain & Dict;
  p.prefix = (kw.prefix as string | undefined) ?? `${p.decoration}`.replace(/\s+$/, '') + '\n';
  p.postfix = (kw.postfix as string | undefined) ?? `${p.decoration}`.replace(/\s+$/, '') + '\n';
  if (kw.prefix === undefined) p.prefix = `${p.decoration.trimEnd()}\n`;
  if (kw.postfix === undefined) p.postfix = `${p.decoration.trimEnd()}\n`;
  const prefixCount = num(p.prefix_count);
  const postfixCount = num(p.postfix_count);
  const beginning = p.beginning ? `${p.beginning}\n` : '';
  const end = p.end ? `${p.end}` : '';
  const lines = text.split('\n').map((l) => (p.decoration + l).replace(/\s+$/, ''));
  let out = beginning;
  out += p.prefix.repeat(prefixCount);
  out += `${lines.join('\n')}\n`;
  out += p.postfix.repeat(postfixCount);
  out += end;
  return out.replace(/\n$/, end ? '' : '');
}

function indentFilter(s: string, width: unknown, first: boolean, blank: boolean): string {
  const ind = typeof width === 'string' ? width : ' '.repeat(num(width));
  const nl = '\n';
  let text = s;
  let tail = '';
  if (text.endsWith(nl)) {
    text = text.slice(0, -1);
    tail = nl;
  }
  const lines = text.split(nl);
  const out = lines.map((l, i) => {
    if (i === 0 && !first) return l;
    if (!blank && l.trim() === '') return l;
    return ind + l;
  });
  return out.join(nl) + tail;
}

function wordcount(s: string): number {
  return (s.match(/\w+/gu) ?? []).length;
}

function urlencode(v: unknown): string {
  const enc = (s: string) =>
    encodeURIComponent(s)
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%2F/g, '/');
  if (isDict(v))
    return Object.entries(v)
      .map(([k, x]) => `${enc(k).replace(/\//g, '%2F')}=${enc(str(x)).replace(/\//g, '%2F')}`)
      .join('&');
  if (Array.isArray(v))
    return v.map((p) => `${enc(str((p as unknown[])[0]))}=${enc(str((p as unknown[])[1]))}`).join('&');
  return enc(str(v));
}

function compareVersion(a: string, b: string, strict: boolean): number {
  const split = (v: string): (number | string)[] => {
    if (strict) {
      const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$/.exec(v);
      if (!m) throw new FilterError(`Version comparison failed: invalid version number '${v}'`);
      return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    }
    return (v.match(/\d+|[a-z]+|\.|/gi) ?? [])
      .filter((x) => x !== '.' && x !== '')
      .map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  };
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    // LooseVersion compares int with str by falling back to str ordering in py2; in py3 it errors,
    // Ansible catches nothing there, so keep a stable order: numbers sort after strings.
    if (typeof x === 'number') return 1;
    if (typeof y === 'number') return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

const versionOps: Record<string, (c: number) => boolean> = {
  '==': (c) => c === 0,
  '=': (c) => c === 0,
  eq: (c) => c === 0,
  '<': (c) => c < 0,
  lt: (c) => c < 0,
  '<=': (c) => c <= 0,
  le: (c) => c <= 0,
  '>': (c) => c > 0,
  gt: (c) => c > 0,
  '>=': (c) => c >= 0,
  ge: (c) => c >= 0,
  '!=': (c) => c !== 0,
  '<>': (c) => c !== 0,
  ne: (c) => c !== 0,
};

export function versionCompare(
  value: unknown,
  version: unknown,
  op: unknown = 'eq',
  strict = false,
  versionType?: unknown,
): boolean {
  const f = versionOps[str(op)];
  if (!f) throw new FilterError(`Invalid operator type (${str(op)})`);
  const strictMode = strict || versionType === 'strict';
  return f(compareVersion(str(value), str(version), strictMode));
}

function groupby(items: unknown[], attr: unknown): unknown[] {
  const groups: [unknown, unknown[]][] = [];
  const sorted = pySort(items, (x) => attrPath(x, attr), false);
  for (const x of sorted) {
    const k = attrPath(x, attr);
    const g = groups.find(([gk]) => pyEq(gk, k));
    if (g) g[1].push(x);
    else groups.push([k, [x]]);
  }
  return groups;
}

function subelements(obj: unknown, subkey: unknown, skipMissing: boolean): unknown[] {
  const items = isDict(obj) ? Object.values(obj) : seq(obj);
  const out: unknown[] = [];
  for (const el of items) {
    let values: unknown = el;
    for (const k of str(subkey).split('.')) {
      if (!isDict(values) || !Object.hasOwn(values, k)) {
        if (skipMissing) {
          values = [];
          break;
        }
        throw new FilterError(`could not find '${k}' key in iterated item '${pyRepr(el)}'`);
      }
      values = values[k];
    }
    if (!Array.isArray(values))
      throw new FilterError(
        'the key %s should point to a list, got %s'.replace('%s', str(subkey)).replace('%s', pyRepr(values)),
      );
    for (const v of values) out.push([el, v]);
  }
  return out;
}

function dict2items(v: unknown, kw: Dict): unknown[] {
  if (!isDict(v)) throw new FilterError(`dict2items requires a dictionary, got ${typeName(v)} instead.`);
  const kn = str(kw.key_name ?? 'key');
  const vn = str(kw.value_name ?? 'value');
  return Object.entries(v).map(([k, x]) => ({ [kn]: k, [vn]: x }));
}

function items2dict(v: unknown, kw: Dict): Dict {
  const kn = str(kw.key_name ?? 'key');
  const vn = str(kw.value_name ?? 'value');
  const out: Dict = {};
  for (const it of seq(v)) {
    if (!isDict(it))
      throw new FilterError(`items2dict requires a list of dictionaries, got ${typeName(it)} instead.`);
    if (!Object.hasOwn(it, kn) || !Object.hasOwn(it, vn)) {
      throw new FilterError(`items2dict requires each dictionary to have keys '${kn}' and '${vn}'`);
    }
    out[str(it[kn])] = it[vn];
  }
  return out;
}

function roundFilter(v: unknown, precision: unknown, method: unknown): unknown {
  const p = precision === undefined ? 0 : num(precision);
  const m = method === undefined ? 'common' : str(method);
  const x = num(v);
  const f = 10 ** p;
  let r: number;
  if (m === 'ceil') r = Math.ceil(x * f) / f;
  else if (m === 'floor') r = Math.floor(x * f) / f;
  else {
    // Python's round(): half to even.
    const y = x * f;
    const fl = Math.floor(y);
    const diff = y - fl;
    const n =
      diff > 0.5 || (Math.abs(diff - 0.5) < 1e-9 && fl % 2 !== 0)
        ? fl + 1
        : diff < 0.5 || Math.abs(diff - 0.5) < 1e-9
          ? fl
          : fl + 1;
    r = n / f;
  }
  return makeFloat(r);
}

function pathSplitext(p: string): [string, string] {
  const base = path.basename(p);
  const i = base.lastIndexOf('.');
  if (i <= 0 || /^\.+$/.test(base.slice(0, i + 1))) return [p, ''];
  const cut = p.length - (base.length - i);
  return [p.slice(0, cut), p.slice(cut)];
}

function mandatory(v: unknown, msg: unknown): unknown {
  if (v instanceof Undefined) {
    const name = v.name ? ` '${v.name}' ` : ' ';
    throw new FilterError(msg !== undefined ? str(msg) : `Mandatory variable${name}not defined.`);
  }
  return v;
}

function randomFilter(v: unknown, args: unknown[], kw: Dict): unknown {
  const start = num(args[0] ?? kw.start ?? 0);
  const step = num(args[1] ?? kw.step ?? 1);
  if (isNumber(v)) {
    const end = num(v);
    const n = Math.ceil((end - start) / step);
    if (n <= 0) throw new FilterError('random(): empty range');
    return start + randomInt(n) * step;
  }
  const items = seq(v);
  if (items.length === 0) throw new FilterError('random(): empty sequence');
  return items[randomInt(items.length)];
}

function shuffle(v: unknown): unknown[] {
  const out = [...seq(v)];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function hashText(v: unknown, algo: string): string {
  const map: Record<string, string> = {
    sha1: 'sha1',
    md5: 'md5',
    sha224: 'sha224',
    sha256: 'sha256',
    sha384: 'sha384',
    sha512: 'sha512',
  };
  const a = map[algo];
  if (!a) throw new FilterError(`unsupported hash type ${algo}`);
  return createHash(a).update(str(v), 'utf8').digest('hex');
}

export function buildFilters(scope: () => VarScope): Record<string, FilterFn> {
  const applyFilter = (name: string, value: unknown, args: unknown[], kw: Dict): unknown => {
    const f = filters[name];
    if (!f) throw new FilterError(`No filter named '${name}'.`);
    if (value instanceof Undefined && !undefinedOkFilters.has(name)) value.fail();
    return f(value, args, kw);
  };
  void scope;
  const selectLike = (keep: boolean, byAttr: boolean) => (v: unknown, args: unknown[], _kw: Dict) => {
    const items = seq(v);
    let getVal = (x: unknown) => x;
    let rest = args;
    if (byAttr) {
      const attr = args[0];
      getVal = (x) => attrPath(x, attr);
      rest = args.slice(1);
    }
    if (rest.length === 0) {
      return items.filter((x) => {
        const val = getVal(x);
        return (isUndefined(val) ? false : truthy(val)) === keep;
      });
    }
    const testName = str(rest[0]);
    const testArgs = rest.slice(1);
    const test = testsRef.current?.[testName];
    if (!test) throw new FilterError(`No test named '${testName}'.`);
    return items.filter((x) => test(getVal(x), testArgs, {}) === keep);
  };

  const filters: Record<string, FilterFn> = {
    default: (v, a, kw) => {
      const dflt = a[0] ?? kw.default_value ?? '';
      const checkFalse = truthy(a[1] ?? kw.boolean ?? false);
      if (v instanceof Undefined || (checkFalse && !truthy(v))) return dflt;
      return v;
    },
    mandatory: (v, a, kw) => mandatory(v, a[0] ?? kw.msg),
    bool: (v) => toBool(v),
    int: (v, a, kw) => toInt(v, num(a[0] ?? kw.default ?? 0), num(a[1] ?? kw.base ?? 10)),
    float: (v, a, kw) => toFloat(v, a[0] ?? kw.default ?? 0),
    string: (v) => str(v),
    lower: (v) => str(v).toLowerCase(),
    upper: (v) => str(v).toUpperCase(),
    capitalize: (v) => pyCapitalize(str(v)),
    title: (v) => pyTitle(str(v)),
    trim: (v, a) => {
      const s = str(v);
      if (a[0] === undefined) return s.trim();
      const set = new Set(str(a[0]));
      const chars = [...s];
      let i = 0;
      let j = chars.length;
      while (i < j && set.has(chars[i]!)) i++;
      while (j > i && set.has(chars[j - 1]!)) j--;
      return chars.slice(i, j).join('');
    },
    replace: (v, a) => {
      const s = str(v);
      const old = str(a[0]);
      const nw = str(a[1]);
      if (a[2] === undefined) return s.split(old).join(nw);
      const parts = s.split(old);
      const n = num(a[2]);
      return (
        parts.slice(0, n + 1).join(nw) + (parts.length > n + 1 ? old + parts.slice(n + 1).join(old) : '')
      );
    },
    regex_replace: (v, a, kw) => {
      const re = pyRegex(str(a[0] ?? kw.pattern ?? ''), {
        ignorecase: truthy(a[2] ?? kw.ignorecase ?? false),
        multiline: truthy(a[3] ?? kw.multiline ?? false),
        global: true,
      });
      const count = num(a[4] ?? kw.count ?? 0);
      const repl = str(a[1] ?? kw.replacement ?? '');
      let n = 0;
      return str(v).replace(re, (...m: unknown[]) => {
        if (count > 0 && n >= count) return m[0] as string;
        n++;
        return pyReplacement(repl, m);
      });
    },
    regex_search: (v, a, kw) => {
      const re = pyRegex(str(a[0]), {
        ignorecase: truthy(kw.ignorecase ?? false),
        multiline: truthy(kw.multiline ?? false),
        global: false,
      });
      const m = re.exec(str(v));
      if (!m) return null;
      const groups = a.slice(1);
      if (groups.length === 0) return m[0];
      return groups.map((g) => {
        const gs = str(g);
        if (/^\\\d+$/.test(gs)) return m[Number(gs.slice(1))] ?? null;
        const named = /^\\g<(\w+)>$/.exec(gs);
        if (named) return m.groups?.[named[1]!] ?? null;
        throw new FilterError(`Unknown argument ${gs}`);
      });
    },
    regex_findall: (v, a, kw) => {
      const re = pyRegex(str(a[0]), {
        ignorecase: truthy(a[1] ?? kw.ignorecase ?? false),
        multiline: truthy(a[2] ?? kw.multiline ?? false),
        global: true,
      });
      const out: unknown[] = [];
      for (const m of str(v).matchAll(re)) {
        if (m.length === 1) out.push(m[0]);
        else if (m.length === 2) out.push(m[1] ?? '');
        else out.push(m.slice(1).map((x) => x ?? ''));
      }
      return out;
    },
    regex_escape: (v, a) => {
      const s = str(v);
      if ((a[0] ?? 'python') === 'posix_basic') return s.replace(/[.[\]\\*^$]/g, '\\$&');
      return s.replace(/[^A-Za-z0-9_]/g, (c) => (c.charCodeAt(0) > 127 ? c : `\\${c}`));
    },
    split: (v, a) => {
      const s = str(v);
      if (a[0] === undefined || a[0] === null) return s.split(/\s+/).filter((x) => x !== '');
      return s.split(str(a[0]));
    },
    join: (v, a, kw) => {
      const sep = str(a[0] ?? kw.d ?? '');
      const attr = a[1] ?? kw.attribute;
      return seq(v)
        .map((x) => str(attr !== undefined ? attrPath(x, attr) : x))
        .join(sep);
    },
    length: (v) => {
      if (typeof v === 'string') return [...v].length;
      if (Array.isArray(v)) return v.length;
      if (isDict(v)) return Object.keys(v).length;
      throw new FilterError(`object of type '${typeName(v)}' has no len()`);
    },
    first: (v) => {
      const s = seq(v);
      return s.length ? s[0] : new Undefined('No first item, sequence was empty.');
    },
    last: (v) => {
      const s = seq(v);
      return s.length ? s[s.length - 1] : new Undefined('No last item, sequence was empty.');
    },
    min: (v, a, kw) => {
      const attr = a[0] ?? kw.attribute;
      const s = seq(v);
      if (!s.length) return new Undefined('No aggregated item, sequence was empty.');
      return pySort(
        s,
        (x) => sortKey(attr !== undefined ? attrPath(x, attr) : x, truthy(kw.case_sensitive)),
        false,
      )[0];
    },
    max: (v, a, kw) => {
      const attr = a[0] ?? kw.attribute;
      const s = seq(v);
      if (!s.length) return new Undefined('No aggregated item, sequence was empty.');
      const sorted = pySort(
        s,
        (x) => sortKey(attr !== undefined ? attrPath(x, attr) : x, truthy(kw.case_sensitive)),
        false,
      );
      return sorted[sorted.length - 1];
    },
    sum: (v, a, kw) => {
      const attr = kw.attribute ?? (a.length > 1 ? a[0] : undefined);
      let total: unknown = kw.start ?? (a.length > 1 ? a[1] : a[0]) ?? 0;
      if (a.length === 1 && kw.attribute === undefined && !isNumber(a[0]) && !Array.isArray(a[0])) {
        total = 0;
      }
      for (const x of seq(v)) total = pyAdd(total, attr !== undefined ? attrPath(x, attr) : x);
      return total;
    },
    abs: (v) => (isFloat(v) ? makeFloat(Math.abs(num(v))) : Math.abs(num(v))),
    round: (v, a, kw) => roundFilter(v, a[0] ?? kw.precision, a[1] ?? kw.method),
    unique: (v, _a, kw) => {
      const attr = kw.attribute;
      if (attr === undefined) return unique(seq(v));
      const out: unknown[] = [];
      const seen: unknown[] = [];
      for (const x of seq(v)) {
        const k = attrPath(x, attr);
        if (!seen.some((y) => pyEq(y, k))) {
          seen.push(k);
          out.push(x);
        }
      }
      return out;
    },
    union: (v, a) => unique([...seq(v), ...seq(a[0])]),
    intersect: (v, a) => unique(seq(v).filter((x) => seq(a[0]).some((y) => pyEq(x, y)))),
    difference: (v, a) => unique(seq(v).filter((x) => !seq(a[0]).some((y) => pyEq(x, y)))),
    symmetric_difference: (v, a) => {
      const x = seq(v);
      const y = seq(a[0]);
      return unique([
        ...x.filter((e) => !y.some((f) => pyEq(e, f))),
        ...y.filter((e) => !x.some((f) => pyEq(e, f))),
      ]);
    },
    sort: (v, a, kw) => {
      const reverse = truthy(a[0] ?? kw.reverse ?? false);
      const cs = truthy(a[1] ?? kw.case_sensitive ?? false);
      const attr = a[2] ?? kw.attribute;
      const attrs =
        attr === undefined
          ? []
          : str(attr)
              .split(',')
              .map((x) => x.trim());
      const key = (x: unknown) =>
        attrs.length === 0
          ? sortKey(x, cs)
          : attrs.length === 1
            ? sortKey(attrPath(x, attrs[0]), cs)
            : attrs.map((at) => sortKey(attrPath(x, at), cs));
      return pySort(seq(v), key, reverse);
    },
    reverse: (v) => (typeof v === 'string' ? [...v].reverse().join('') : [...seq(v)].reverse()),
    list: (v) => [...seq(v)],
    dict2items: (v, _a, kw) => dict2items(v, kw),
    items2dict: (v, _a, kw) => items2dict(v, kw),
    combine: (v, a, kw) => {
      const recursive = truthy(kw.recursive ?? false);
      const listMerge = str(kw.list_merge ?? 'replace');
      const dicts = [v, ...a].flatMap((x) => (Array.isArray(x) ? x : [x]));
      let out: Dict = {};
      for (const d of dicts) {
        if (!isDict(d))
          throw new FilterError(`failed to combine variables, expected dicts but got a '${typeName(d)}'`);
        out = merge(out, d, recursive, listMerge);
      }
      return out;
    },
    map: (v, a, kw) => {
      const items = seq(v);
      if (kw.attribute !== undefined && a.length === 0) {
        return items.map((x) => {
          const r = attrPath(x, kw.attribute);
          return isUndefined(r) && kw.default !== undefined ? kw.default : r;
        });
      }
      if (a.length === 0) return items;
      const name = str(a[0]);
      return items.map((x) => applyFilter(name, x, a.slice(1), kw));
    },
    select: selectLike(true, false),
    reject: selectLike(false, false),
    selectattr: selectLike(true, true),
    rejectattr: selectLike(false, true),
    zip: (v, a) => {
      const lists = [seq(v), ...a.map(seq)];
      const n = Math.min(...lists.map((l) => l.length));
      return Array.from({ length: n }, (_, i) => lists.map((l) => l[i]));
    },
    zip_longest: (v, a, kw) => {
      const lists = [seq(v), ...a.map(seq)];
      const n = Math.max(...lists.map((l) => l.length));
      const fill = kw.fillvalue ?? null;
      return Array.from({ length: n }, (_, i) => lists.map((l) => (i < l.length ? l[i] : fill)));
    },
    flatten: (v, a, kw) => {
      const lv = a[0] ?? kw.levels;
      return flatten(seq(v), lv === undefined || lv === null ? null : num(lv), truthy(kw.skip_nulls ?? true));
    },
    basename: (v) => path.basename(str(v)) + (str(v).endsWith('/') ? '' : '').replace(/^$/, ''),
    dirname: (v) => {
      const s = str(v);
      const i = s.lastIndexOf('/');
      if (i < 0) return '';
      const head = s.slice(0, i + 1);
      return /^\/+$/.test(head) ? head : head.replace(/\/+$/, '');
    },
    expanduser: (v) => str(v).replace(/^~(?=\/|$)/, homedir()),
    realpath: (v) => {
      try {
        return realpathSync(str(v));
      } catch {
        return path.resolve(str(v));
      }
    },
    relpath: (v, a) => path.relative(str(a[0]), str(v)),
    splitext: (v) => makeTuple(pathSplitext(str(v))),
    path_join: (v) => {
      const parts = seq(v).map(str);
      let out = '';
      for (const p of parts)
        out = p.startsWith('/') ? p : out === '' || out.endsWith('/') ? out + p : `${out}/${p}`;
      return out;
    },
    quote: (v) => shellQuote(str(v)),
    comment: (v, a, kw) => commentFilter(str(v), str(a[0] ?? kw.style ?? 'plain'), kw),
    indent: (v, a, kw) =>
      indentFilter(
        str(v),
        a[0] ?? kw.width ?? 4,
        truthy(a[1] ?? kw.first ?? false),
        truthy(a[2] ?? kw.blank ?? false),
      ),
    center: (v, a) => {
      const s = str(v);
      const w = num(a[0] ?? 80);
      const pad = w - s.length;
      if (pad <= 0) return s;
      const left = Math.floor(pad / 2) + (pad & w & 1);
      return ' '.repeat(left) + s + ' '.repeat(pad - left);
    },
    wordcount: (v) => wordcount(str(v)),
    // Jinja's format: printf-style, positional args as a tuple, keyword args as a mapping.
    format: (v, args, kw) => percentFormat(str(v), Object.keys(kw).length > 0 ? kw : makeTuple(args)),
    truncate: (v, a, kw) => {
      const s = str(v);
      const len = num(a[0] ?? kw.length ?? 255);
      const killwords = truthy(a[1] ?? kw.killwords ?? false);
      const end = str(a[2] ?? kw.end ?? '...');
      const leeway = num(a[3] ?? kw.leeway ?? 5);
      if (s.length <= len + leeway) return s;
      if (killwords) return s.slice(0, len - end.length) + end;
      const cut = s.slice(0, len - end.length);
      const i = cut.lastIndexOf(' ');
      return (i >= 0 ? cut.slice(0, i) : cut) + end;
    },
    urlencode: (v) => urlencode(v),
    batch: (v, a) => {
      const n = num(a[0]);
      const items = seq(v);
      const out: unknown[][] = [];
      for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
      if (a[1] !== undefined && out.length && out[out.length - 1]!.length < n) {
        const last = out[out.length - 1]!;
        while (last.length < n) last.push(a[1]);
      }
      return out;
    },
    slice: (v, a) => {
      const items = seq(v);
      const slices = num(a[0]);
      const per = Math.floor(items.length / slices);
      const extra = items.length % slices;
      const out: unknown[][] = [];
      let offset = 0;
      for (let i = 0; i < slices; i++) {
        const start = offset + i * per;
        if (i < extra) offset++;
        const end = offset + (i + 1) * per;
        const part = items.slice(start, end);
        if (a[1] !== undefined && i >= extra) part.push(a[1]);
        out.push(part);
      }
      return out;
    },
    attr: (v, a) => getAttr(v, a[0]),
    dictsort: (v, a, kw) => {
      if (!isDict(v)) throw new FilterError('You can only sort by either "key" or "value"');
      const cs = truthy(a[0] ?? kw.case_sensitive ?? false);
      const by = str(a[1] ?? kw.by ?? 'key');
      const reverse = truthy(a[2] ?? kw.reverse ?? false);
      const idx = by === 'key' ? 0 : 1;
      return pySort(Object.entries(v), (e) => sortKey(e[idx], cs), reverse).map((e) => makeTuple(e));
    },
    groupby: (v, a, kw) => groupby(seq(v), a[0] ?? kw.attribute),
    to_json: (v, _a, kw) =>
      pyJsonDumps(v, {
        indent: kw.indent === undefined ? undefined : num(kw.indent),
        sortKeys: truthy(kw.sort_keys ?? false),
        ensureAscii: truthy(kw.ensure_ascii ?? true),
      }),
    to_nice_json: (v, a, kw) =>
      pyJsonDumps(v, {
        indent: num(a[0] ?? kw.indent ?? 4),
        sortKeys: truthy(kw.sort_keys ?? true),
        separators: [',', ': '],
        ensureAscii: truthy(kw.ensure_ascii ?? true),
      }),
    from_json: (v) => {
      try {
        return JSON.parse(str(v));
      } catch (e) {
        throw new FilterError(`from_json: ${(e as Error).message}`);
      }
    },
    to_yaml: (v, _a, kw) => dumpYaml(v, { flow: true, indent: num(kw.indent ?? 2) }),
    to_nice_yaml: (v, a, kw) => dumpYaml(v, { flow: false, indent: num(a[0] ?? kw.indent ?? 4) }),
    from_yaml: (v) => (typeof v === 'string' ? (parseYaml(v) ?? null) : v),
    from_yaml_all: (v) => {
      const docs = str(v)
        .split(/^---\s*$/m)
        .filter((d) => d.trim() !== '');
      return docs.map((d) => parseYaml(d) ?? null);
    },
    b64encode: (v) => b64encode(str(v)),
    b64decode: (v) => Buffer.from(str(v), 'base64').toString('utf8'),
    hash: (v, a) => hashText(v, str(a[0] ?? 'sha1')),
    md5: (v) => hashText(v, 'md5'),
    sha1: (v) => hashText(v, 'sha1'),
    checksum: (v) => hashText(v, 'sha1'),
    password_hash: (v, a, kw) =>
      passwordHash(str(v), str(a[0] ?? kw.hashtype ?? 'sha512'), a[1] ?? kw.salt, a[2] ?? kw.rounds),
    ternary: (v, a, kw) => {
      const t = a[0] ?? kw.true_val;
      const f = a[1] ?? kw.false_val;
      const n = a.length > 2 ? a[2] : kw.none_val;
      if ((v === null || v === undefined) && (a.length > 2 || kw.none_val !== undefined)) return n;
      return truthy(v) ? t : f;
    },
    type_debug: (v) =>
      v instanceof Undefined
        ? 'AnsibleUndefined'
        : v === null
          ? 'NoneType'
          : typeName(v) === 'str'
            ? 'str'
            : typeName(v),
    random: randomFilter,
    shuffle: (v) => shuffle(v),
    version_compare: (v, a, kw) =>
      versionCompare(
        v,
        a[0] ?? kw.version,
        a[1] ?? kw.operator ?? 'eq',
        truthy(a[2] ?? kw.strict ?? false),
        kw.version_type,
      ),
    subelements: (v, a, kw) => subelements(v, a[0], truthy(a[1] ?? kw.skip_missing ?? false)),
    extract: (v, a) => {
      let out = getAttr(a[0], v);
      if (a[1] !== undefined) for (const k of Array.isArray(a[1]) ? a[1] : [a[1]]) out = getAttr(out, k);
      return out;
    },
    dict: (v) => {
      const out: Dict = {};
      for (const p of seq(v)) out[str((p as unknown[])[0])] = (p as unknown[])[1];
      return out;
    },
    items: (v) => (isDict(v) ? Object.entries(v) : seq(v)),
    count: (v) => filters.length!(v, [], {}),
    d: (v, a, kw) => filters.default!(v, a, kw),
    e: (v, a, kw) => filters.escape!(v, a, kw),
    escape: (v) =>
      str(v)
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&#34;')
        .replace(/'/g, '&#39;'),
    safe: (v) => v,
    string_repr: (v) => pyRepr(v),
    unique_list: (v) => unique(seq(v)),
    product: (v, a) => {
      const lists = [seq(v), ...a.map(seq)];
      return lists.reduce<unknown[][]>((acc, l) => acc.flatMap((p) => l.map((x) => [...p, x])), [[]]);
    },
    permutations: (v, a) => {
      const items = seq(v);
      const r = a[0] === undefined ? items.length : num(a[0]);
      const out: unknown[][] = [];
      const rec = (cur: unknown[], used: boolean[]) => {
        if (cur.length === r) {
          out.push([...cur]);
          return;
        }
        items.forEach((x, i) => {
          if (used[i]) return;
          used[i] = true;
          rec([...cur, x], used);
          used[i] = false;
        });
      };
      rec([], []);
      return out;
    },
    combinations: (v, a) => {
      const items = seq(v);
      const r = num(a[0]);
      const out: unknown[][] = [];
      const rec = (start: number, cur: unknown[]) => {
        if (cur.length === r) {
          out.push([...cur]);
          return;
        }
        for (let i = start; i < items.length; i++) rec(i + 1, [...cur, items[i]]);
      };
      rec(0, []);
      return out;
    },
    log: (v, a) => makeFloat(a[0] === undefined ? Math.log(num(v)) : Math.log(num(v)) / Math.log(num(a[0]))),
    pow: (v, a) => makeFloat(num(v) ** num(a[0])),
    root: (v, a) => makeFloat(num(v) ** (1 / num(a[0] ?? 2))),
    human_readable: (v, a) => humanReadable(num(v), truthy(a[0] ?? false), a[1]),
    human_to_bytes: (v, a) => humanToBytes(str(v), a[0], truthy(a[1] ?? false)),
    strftime: (v, a) => strftime(str(v), a[0] === undefined ? new Date() : new Date(num(a[0]) * 1000)),
    to_datetime: (v) => new Date(str(v).replace(' ', 'T')),
    win_basename: (v) => str(v).split(/[\\/]/).pop() ?? '',
    splitlines: (v) => str(v).split(/\r?\n/),
  };
  return filters;
}

/** Filled by buildTests so select/reject can use them; both sets are built by the Templar. */
export const testsRef: {
  current: Record<string, (v: unknown, a: unknown[], kw: Dict) => boolean> | undefined;
} = {
  current: undefined,
};

function humanReadable(n: number, isBits: boolean, unit: unknown): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
  const suffix = isBits ? 'b' : 'B';
  let i = 0;
  if (unit !== undefined && unit !== null) {
    i = Math.max(0, units.indexOf(str(unit).toUpperCase().replace(/B$/, '')));
  } else {
    while (Math.abs(n) >= 1024 ** (i + 1) && i < units.length - 1) i++;
  }
  return `${(n / 1024 ** i).toFixed(2)} ${units[i]}${suffix}`;
}

function humanToBytes(s: string, defaultUnit: unknown, isBits: boolean): number {
  const m = /^\s*(\d*\.?\d+)\s*([KMGTPEZY]?)(i?)([bB]?)(?:ytes?|its?)?\s*$/i.exec(s);
  if (!m) throw new FilterError(`human_to_bytes() can't interpret following string: ${s}`);
  const units = ['', 'K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
  const unit = (m[2] || (defaultUnit !== undefined ? str(defaultUnit).slice(0, 1) : '')).toUpperCase();
  const k = units.indexOf(unit);
  void isBits;
  return Math.round(Number(m[1]) * 1024 ** Math.max(0, k));
}

function strftime(fmt: string, d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const months = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  return fmt.replace(/%([a-zA-Z%])/g, (_m, c: string) => {
    switch (c) {
      case 'Y':
        return String(d.getFullYear());
      case 'y':
        return pad(d.getFullYear() % 100);
      case 'm':
        return pad(d.getMonth() + 1);
      case 'd':
        return pad(d.getDate());
      case 'H':
        return pad(d.getHours());
      case 'M':
        return pad(d.getMinutes());
      case 'S':
        return pad(d.getSeconds());
      case 'j':
        return pad(Math.floor((d.getTime() - new Date(d.getFullYear(), 0, 1).getTime()) / 86400000) + 1, 3);
      case 'a':
        return days[d.getDay()]!.slice(0, 3);
      case 'A':
        return days[d.getDay()]!;
      case 'b':
        return months[d.getMonth()]!.slice(0, 3);
      case 'B':
        return months[d.getMonth()]!;
      case 's':
        return String(Math.floor(d.getTime() / 1000));
      case 'z': {
        const o = -d.getTimezoneOffset();
        return (o >= 0 ? '+' : '-') + pad(Math.floor(Math.abs(o) / 60)) + pad(Math.abs(o) % 60);
      }
      case '%':
        return '%';
      default:
        return `%${c}`;
    }
  });
}
