/**
 * Attribute access and the Python methods of str, list and dict, as Jinja expressions in
 * playbooks call them (`x.split(',')`, `d.items()`, `l.append(1)`).
 */
import {
  type Dict,
  isDict,
  isNumber,
  num,
  pyEq,
  pyIter,
  pyRepr,
  pyStr,
  strFormat,
  truthy,
  typeName,
} from './python.js';
import { Undefined } from './undefined.js';

/** nunjucks passes keyword arguments as a trailing object marked `__keywords`. */
export function splitArgs(args: unknown[]): { pos: unknown[]; kw: Dict } {
  const last = args[args.length - 1];
  if (isDict(last) && last.__keywords === true) {
    const kw: Dict = { ...last };
    delete kw.__keywords;
    return { pos: args.slice(0, -1), kw };
  }
  return { pos: args, kw: {} };
}

type Method = (self: never, pos: unknown[], kw: Dict) => unknown;

function pyWhitespaceSplit(s: string, maxsplit: number): string[] {
  const out: string[] = [];
  let rest = s.replace(/^\s+/, '');
  while (rest.length > 0) {
    if (maxsplit >= 0 && out.length === maxsplit) {
      out.push(rest);
      break;
    }
    const m = /\s+/.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    out.push(rest.slice(0, m.index));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

function split(s: string, sep: unknown, maxsplit: number): string[] {
  if (sep === null || sep === undefined) return pyWhitespaceSplit(s, maxsplit);
  const d = pyStr(sep);
  if (d === '') throw new Error('ValueError: empty separator');
  const parts = s.split(d);
  if (maxsplit < 0 || parts.length <= maxsplit + 1) return parts;
  return [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(d)];
}

function rsplit(s: string, sep: unknown, maxsplit: number): string[] {
  if (maxsplit < 0) return split(s, sep, -1);
  if (sep === null || sep === undefined) {
    const rev = pyWhitespaceSplit([...s].reverse().join(''), maxsplit);
    return rev.map((x) => [...x].reverse().join('')).reverse();
  }
  const d = pyStr(sep);
  const parts = s.split(d);
  if (parts.length <= maxsplit + 1) return parts;
  const cut = parts.length - maxsplit;
  return [parts.slice(0, cut).join(d), ...parts.slice(cut)];
}

function stripChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  if (chars === null || chars === undefined) {
    let r = s;
    if (left) r = r.replace(/^\s+/, '');
    if (right) r = r.replace(/\s+$/, '');
    return r;
  }
  const set = new Set(pyStr(chars));
  const arr = [...s];
  let a = 0;
  let b = arr.length;
  if (left) while (a < b && set.has(arr[a]!)) a++;
  if (right) while (b > a && set.has(arr[b - 1]!)) b--;
  return arr.slice(a, b).join('');
}

function prefixes(p: unknown): string[] {
  return Array.isArray(p) ? p.map(pyStr) : [pyStr(p)];
}

export function pyTitle(s: string): string {
  return s.toLowerCase().replace(/(^|[^A-Za-z])([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase());
}

export function pyCapitalize(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1).toLowerCase();
}

const strMethods: Record<string, (s: string, pos: unknown[], kw: Dict) => unknown> = {
  split: (s, p, kw) => split(s, p[0] ?? kw.sep, num(p[1] ?? kw.maxsplit ?? -1)),
  rsplit: (s, p, kw) => rsplit(s, p[0] ?? kw.sep, num(p[1] ?? kw.maxsplit ?? -1)),
  splitlines: (s, p) => {
    const lines = s.split(/(?<=\r\n|\n|\r)/);
    if (lines[lines.length - 1] === '') lines.pop();
    return truthy(p[0]) ? lines : lines.map((l) => l.replace(/(\r\n|\n|\r)$/, ''));
  },
  startswith: (s, p) => prefixes(p[0]).some((x) => s.startsWith(x, p[1] === undefined ? 0 : num(p[1]))),
  endswith: (s, p) => prefixes(p[0]).some((x) => s.endsWith(x)),
  strip: (s, p) => stripChars(s, p[0], true, true),
  lstrip: (s, p) => stripChars(s, p[0], true, false),
  rstrip: (s, p) => stripChars(s, p[0], false, true),
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  casefold: (s) => s.toLowerCase(),
  swapcase: (s) => [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''),
  title: (s) => pyTitle(s),
  capitalize: (s) => pyCapitalize(s),
  replace: (s, p) => {
    const old = pyStr(p[0]);
    const nw = pyStr(p[1]);
    const count = p[2] === undefined ? -1 : num(p[2]);
    if (count < 0) return s.split(old).join(nw);
    const parts = s.split(old);
    return (
      parts.slice(0, count + 1).join(nw) +
      (parts.length > count + 1 ? old + parts.slice(count + 1).join(old) : '')
    );
  },
  format: (s, p, kw) => strFormat(s, p, kw),
  join: (s, p) => pyIter(p[0]).map(pyStr).join(s),
  find: (s, p) => s.indexOf(pyStr(p[0]), p[1] === undefined ? 0 : num(p[1])),
  rfind: (s, p) => s.lastIndexOf(pyStr(p[0])),
  index: (s, p) => {
    const i = s.indexOf(pyStr(p[0]));
    if (i < 0) throw new Error('ValueError: substring not found');
    return i;
  },
  count: (s, p) => {
    const sub = pyStr(p[0]);
    return sub === '' ? s.length + 1 : s.split(sub).length - 1;
  },
  isdigit: (s) => /^\d+$/.test(s),
  isnumeric: (s) => /^\d+$/.test(s),
  isdecimal: (s) => /^\d+$/.test(s),
  isalpha: (s) => /^[\p{L}]+$/u.test(s),
  isalnum: (s) => /^[\p{L}\d]+$/u.test(s),
  isspace: (s) => /^\s+$/.test(s),
  islower: (s) => /[a-z]/.test(s) && s === s.toLowerCase(),
  isupper: (s) => /[A-Z]/.test(s) && s === s.toUpperCase(),
  istitle: (s) => s.length > 0 && pyTitle(s) === s,
  zfill: (s, p) => {
    const w = num(p[0]);
    const sign = s.startsWith('-') || s.startsWith('+') ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(w - sign.length, '0');
  },
  center: (s, p) => {
    const w = num(p[0]);
    const fill = p[1] === undefined ? ' ' : pyStr(p[1]);
    const pad = w - s.length;
    if (pad <= 0) return s;
    const left = Math.floor(pad / 2) + (pad & w & 1);
    return fill.repeat(left) + s + fill.repeat(pad - left);
  },
  ljust: (s, p) => s.padEnd(num(p[0]), p[1] === undefined ? ' ' : pyStr(p[1])),
  rjust: (s, p) => s.padStart(num(p[0]), p[1] === undefined ? ' ' : pyStr(p[1])),
  partition: (s, p) => {
    const sep = pyStr(p[0]);
    const i = s.indexOf(sep);
    return i < 0 ? [s, '', ''] : [s.slice(0, i), sep, s.slice(i + sep.length)];
  },
  rpartition: (s, p) => {
    const sep = pyStr(p[0]);
    const i = s.lastIndexOf(sep);
    return i < 0 ? ['', '', s] : [s.slice(0, i), sep, s.slice(i + sep.length)];
  },
  encode: (s) => s,
  decode: (s) => s,
};

const listMethods: Record<string, (l: unknown[], pos: unknown[], kw: Dict) => unknown> = {
  append: (l, p) => {
    l.push(p[0]);
    return null;
  },
  extend: (l, p) => {
    l.push(...pyIter(p[0]));
    return null;
  },
  insert: (l, p) => {
    l.splice(num(p[0]), 0, p[1]);
    return null;
  },
  pop: (l, p) => {
    if (l.length === 0) throw new Error('IndexError: pop from empty list');
    const i = p[0] === undefined ? l.length - 1 : num(p[0]) < 0 ? l.length + num(p[0]) : num(p[0]);
    return l.splice(i, 1)[0];
  },
  remove: (l, p) => {
    const i = l.findIndex((x) => pyEq(x, p[0]));
    if (i < 0) throw new Error('ValueError: list.remove(x): x not in list');
    l.splice(i, 1);
    return null;
  },
  index: (l, p) => {
    const i = l.findIndex((x) => pyEq(x, p[0]));
    if (i < 0) throw new Error(`ValueError: ${pyRepr(p[0])} is not in list`);
    return i;
  },
  count: (l, p) => l.filter((x) => pyEq(x, p[0])).length,
  reverse: (l) => {
    l.reverse();
    return null;
  },
  sort: (l, _p, kw) => {
    l.sort((a, b) => (a === b ? 0 : pyStr(a) < pyStr(b) ? -1 : 1));
    if (truthy(kw.reverse)) l.reverse();
    return null;
  },
  copy: (l) => [...l],
  clear: (l) => {
    l.length = 0;
    return null;
  },
};

const dictMethods: Record<string, (d: Dict, pos: unknown[], kw: Dict) => unknown> = {
  items: (d) => Object.entries(d),
  keys: (d) => Object.keys(d),
  values: (d) => Object.values(d),
  get: (d, p) => {
    const k = pyStr(p[0]);
    return Object.hasOwn(d, k) ? d[k] : (p[1] ?? null);
  },
  update: (d, p, kw) => {
    if (p[0] !== undefined) Object.assign(d, p[0]);
    Object.assign(d, kw);
    return null;
  },
  pop: (d, p) => {
    const k = pyStr(p[0]);
    if (!Object.hasOwn(d, k)) {
      if (p.length > 1) return p[1];
      throw new Error(`KeyError: ${pyRepr(p[0])}`);
    }
    const v = d[k];
    delete d[k];
    return v;
  },
  setdefault: (d, p) => {
    const k = pyStr(p[0]);
    if (!Object.hasOwn(d, k)) d[k] = p[1] ?? null;
    return d[k];
  },
  copy: (d) => ({ ...d }),
  clear: (d) => {
    for (const k of Object.keys(d)) delete d[k];
    return null;
  },
};

function bind(self: unknown, m: Method): (...args: unknown[]) => unknown {
  return (...args: unknown[]) => {
    const { pos, kw } = splitArgs(args);
    for (const a of pos) if (a instanceof Undefined) a.fail();
    return m(self as never, pos, kw);
  };
}

function objName(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  return `${typeName(v)} object`;
}

/**
 * Jinja's getattr/getitem: item first for dicts (so `d.items` finds a key named items before
 * the method, which is what playbooks that work mean), then Python methods. Missing yields an
 * Undefined carrying Jinja's message.
 */
export function getAttr(obj: unknown, key: unknown): unknown {
  if (obj instanceof Undefined) return obj;
  if (key instanceof Undefined) key.fail();
  if (typeof obj === 'string') {
    if (isNumber(key)) {
      const chars = [...obj];
      const i = num(key) < 0 ? chars.length + num(key) : num(key);
      if (i >= 0 && i < chars.length) return chars[i];
      return new Undefined(`'str object' has no element ${pyStr(key)}`);
    }
    const m = strMethods[pyStr(key)];
    if (m) return bind(obj, m as Method);
  } else if (Array.isArray(obj)) {
    if (isNumber(key) || typeof key === 'boolean') {
      const i = num(key) < 0 ? obj.length + num(key) : num(key);
      if (i >= 0 && i < obj.length) return obj[i];
      return new Undefined(`'list object' has no element ${pyStr(key)}`);
    }
    const m = listMethods[pyStr(key)];
    if (m) return bind(obj, m as Method);
  } else if (isDict(obj)) {
    const k = pyStr(key);
    if (Object.hasOwn(obj, k)) {
      const v = obj[k];
      return v === undefined ? new Undefined(`'dict object' has no attribute '${k}'`) : v;
    }
    const m = dictMethods[k];
    if (m) return bind(obj, m as Method);
    if (typeof (obj as { [k: string]: unknown })[k] === 'function' && !(k in Object.prototype)) {
      return (obj as { [k: string]: unknown })[k];
    }
  } else if (typeof obj === 'function' && typeof key === 'string') {
    const v = (obj as unknown as Dict)[key];
    if (v !== undefined) return v;
  }
  if (typeof key === 'string' || isNumber(key)) {
    return new Undefined(`'${objName(obj)}' has no attribute '${pyStr(key)}'`);
  }
  return new Undefined(`'${objName(obj)}' has no attribute ${pyRepr(key)}`);
}
