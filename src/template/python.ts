/**
 * Python value semantics for Jinja expressions: Ansible templates are evaluated by Python, so
 * truthiness, equality, `+`, `*`, `%`, str() and the methods of str/list/dict must behave as in
 * Python, not as in JavaScript (where `[] + []` is '' and `[]` is truthy).
 */
import { isUndefined, Undefined } from './undefined.js';

/**
 * A float whose value is integral (Python prints 2.0, JavaScript 2). Non-integral floats stay
 * plain numbers; `valueOf` lets JS arithmetic and comparisons work on it unchanged.
 */
export class PyFloat {
  constructor(readonly v: number) {}
  valueOf(): number {
    return this.v;
  }
  toString(): string {
    return floatRepr(this.v);
  }
  toJSON(): number {
    return this.v;
  }
}

export function makeFloat(n: number): number | PyFloat {
  return Number.isInteger(n) ? new PyFloat(n) : n;
}

export function isNumber(v: unknown): v is number | PyFloat {
  return typeof v === 'number' || v instanceof PyFloat;
}

export function isFloat(v: unknown): boolean {
  return v instanceof PyFloat || (typeof v === 'number' && !Number.isInteger(v));
}

export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v instanceof PyFloat) return v.v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TypeError(`expected a number, got ${typeName(v)}`);
}

function floatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  const s = String(n);
  return s.replace(/e\+?(-?)(\d)$/, 'e$1$10$2').replace('e-', 'e-');
}

export type Dict = Record<string, unknown>;

const TUPLE = Symbol('tuple');

/** A Python tuple: an array that prints as (a, b); it stays text when it is a whole result. */
export function makeTuple(items: unknown[]): unknown[] {
  Object.defineProperty(items, TUPLE, { value: true });
  return items;
}

export function isTuple(v: unknown): boolean {
  return Array.isArray(v) && (v as unknown as Record<symbol, unknown>)[TUPLE] === true;
}

export function isDict(v: unknown): v is Dict {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof PyFloat) &&
    !(v instanceof Undefined) &&
    !(v instanceof Date)
  );
}

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (v instanceof PyFloat) return 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'function') return 'function';
  if (v instanceof Undefined) return 'AnsibleUndefined';
  return 'dict';
}

export function truthy(v: unknown): boolean {
  if (v instanceof Undefined) v.fail();
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (v instanceof PyFloat) return v.v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'function') return true;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Python repr() of a string: single quotes unless the text holds ' and no ". */
export function reprString(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += `\\${q}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + q;
}

export function pyRepr(v: unknown): string {
  if (typeof v === 'string') return reprString(v);
  return pyStr(v);
}

/** Python str(): what Jinja prints for a value. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Undefined) v.fail();
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return Math.abs(v) >= 1e21 ? BigInt(v).toString() : String(v);
    return floatRepr(v);
  }
  if (v instanceof PyFloat) return floatRepr(v.v);
  if (isTuple(v))
    return (v as unknown[]).length === 1
      ? `(${pyRepr((v as unknown[])[0])},)`
      : `(${(v as unknown[]).map(pyRepr).join(', ')})`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace('Z', '');
  if (typeof v === 'function') return `<function ${v.name || 'anonymous'}>`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Dict)
      .map(([k, x]) => `${reprString(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

export function pyEq(a: unknown, b: unknown): boolean {
  if (a instanceof Undefined) a.fail();
  if (b instanceof Undefined) b.fail();
  if (a === b) return true;
  const an = isNumber(a) || typeof a === 'boolean';
  const bn = isNumber(b) || typeof b === 'boolean';
  if (an && bn) return num(a) === num(b);
  if (a === null || a === undefined || b === null || b === undefined) return a == null && b == null;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
  }
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && pyEq(a[k], b[k]));
  }
  return false;
}

function cmpError(op: string, a: unknown, b: unknown): TypeError {
  return new TypeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

/** Python ordering (<, <=, >, >=): numbers with numbers, str with str, lists element-wise. */
export function pyCmp(a: unknown, b: unknown, op: string): number {
  if (a instanceof Undefined) a.fail();
  if (b instanceof Undefined) b.fail();
  const an = isNumber(a) || typeof a === 'boolean';
  const bn = isNumber(b) || typeof b === 'boolean';
  if (an && bn) return num(a) - num(b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEq(a[i], b[i])) return pyCmp(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  throw cmpError(op, a, b);
}

export function compare(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '==':
      return pyEq(a, b);
    case '!=':
      return !pyEq(a, b);
    case '<':
      return pyCmp(a, b, op) < 0;
    case '<=':
      return pyCmp(a, b, op) <= 0;
    case '>':
      return pyCmp(a, b, op) > 0;
    case '>=':
      return pyCmp(a, b, op) >= 0;
    default:
      throw new Error(`unknown comparison ${op}`);
  }
}

function opError(op: string, a: unknown, b: unknown): TypeError {
  if (typeof a === 'string' && op === '+') {
    return new TypeError(`can only concatenate str (not "${typeName(b)}") to str`);
  }
  if (Array.isArray(a) && op === '+') {
    return new TypeError(`can only concatenate list (not "${typeName(b)}") to list`);
  }
  return new TypeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

function arith(a: unknown, b: unknown, op: string, f: (x: number, y: number) => number): number | PyFloat {
  if (a instanceof Undefined) a.fail();
  if (b instanceof Undefined) b.fail();
  const an = isNumber(a) || typeof a === 'boolean';
  const bn = isNumber(b) || typeof b === 'boolean';
  if (!an || !bn) throw opError(op, a, b);
  const r = f(num(a), num(b));
  return isFloat(a) || isFloat(b) ? makeFloat(r) : r;
}

export function pyAdd(a: unknown, b: unknown): unknown {
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  return arith(a, b, '+', (x, y) => x + y);
}

export function pySub(a: unknown, b: unknown): unknown {
  return arith(a, b, '-', (x, y) => x - y);
}

function repeat<T>(seq: T[] | string, n: unknown): T[] | string {
  const count = Math.max(0, num(n));
  if (typeof seq === 'string') return seq.repeat(count);
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(...seq);
  return out;
}

export function pyMul(a: unknown, b: unknown): unknown {
  if ((typeof a === 'string' || Array.isArray(a)) && typeof b === 'number') return repeat(a, b);
  if ((typeof b === 'string' || Array.isArray(b)) && typeof a === 'number') return repeat(b, a);
  return arith(a, b, '*', (x, y) => x * y);
}

export function pyDiv(a: unknown, b: unknown): unknown {
  const r = arith(a, b, '/', (x, y) => {
    if (y === 0) throw new ZeroDivisionError('division by zero');
    return x / y;
  });
  return makeFloat(num(r));
}

export class ZeroDivisionError extends Error {
  override name = 'ZeroDivisionError';
}

export function pyFloorDiv(a: unknown, b: unknown): unknown {
  return arith(a, b, '//', (x, y) => {
    if (y === 0) throw new ZeroDivisionError('integer division or modulo by zero');
    return Math.floor(x / y);
  });
}

export function pyMod(a: unknown, b: unknown): unknown {
  if (typeof a === 'string') return percentFormat(a, b);
  return arith(a, b, '%', (x, y) => {
    if (y === 0) throw new ZeroDivisionError('integer division or modulo by zero');
    return ((x % y) + y) % y;
  });
}

export function pyPow(a: unknown, b: unknown): unknown {
  return arith(a, b, '**', (x, y) => x ** y);
}

export function pyNeg(a: unknown): unknown {
  if (a instanceof Undefined) a.fail();
  if (a instanceof PyFloat) return new PyFloat(-a.v);
  if (typeof a === 'number') return -a;
  if (typeof a === 'boolean') return a ? -1 : 0;
  throw new TypeError(`bad operand type for unary -: '${typeName(a)}'`);
}

export function pyConcat(a: unknown, b: unknown): string {
  return pyStr(a) + pyStr(b);
}

export function pyIn(item: unknown, container: unknown): boolean {
  if (item instanceof Undefined) item.fail();
  if (container instanceof Undefined) container.fail();
  if (typeof container === 'string') {
    if (typeof item !== 'string') {
      throw new TypeError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return container.includes(item);
  }
  if (Array.isArray(container)) return container.some((x) => pyEq(x, item));
  if (isDict(container)) return Object.hasOwn(container, pyStr(item));
  throw new TypeError(`argument of type '${typeName(container)}' is not iterable`);
}

/** What `for x in v` iterates: lists as-is, dict keys, string characters. */
export function pyIter(v: unknown): unknown[] {
  if (v instanceof Undefined) v.fail();
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isDict(v)) return Object.keys(v);
  throw new TypeError(`'${typeName(v)}' object is not iterable`);
}

function normIndex(i: number, len: number): number {
  return i < 0 ? i + len : i;
}

export function pySlice(v: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  if (v instanceof Undefined) v.fail();
  const seq: unknown[] | string = typeof v === 'string' ? v : Array.isArray(v) ? v : pyIter(v);
  const chars = typeof seq === 'string' ? [...seq] : seq;
  const len = chars.length;
  const st = step === null || step === undefined ? 1 : num(step);
  if (st === 0) throw new Error('slice step cannot be zero');
  const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
  let a: number;
  let b: number;
  if (st > 0) {
    a = start == null ? 0 : clamp(normIndex(num(start), len), 0, len);
    b = stop == null ? len : clamp(normIndex(num(stop), len), 0, len);
  } else {
    a = start == null ? len - 1 : clamp(normIndex(num(start), len), -1, len - 1);
    b = stop == null ? -1 : clamp(normIndex(num(stop), len), -1, len - 1);
  }
  const out: unknown[] = [];
  for (let i = a; st > 0 ? i < b : i > b; i += st) out.push(chars[i]);
  return typeof seq === 'string' ? out.join('') : out;
}

/* ---------------------------------------------------------------- formatting */

export function percentFormat(fmt: string, args: unknown): string {
  const list = Array.isArray(args) ? args : [args];
  let i = 0;
  const next = (): unknown => {
    if (i >= list.length) throw new TypeError('not enough arguments for format string');
    return list[i++];
  };
  const out = fmt.replace(
    /%(\(([^)]+)\))?([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d+))?([diouxXeEfFgGcrsa%])/g,
    (
      _m,
      _k,
      key: string | undefined,
      flags: string,
      width: string | undefined,
      prec: string | undefined,
      conv: string,
    ) => {
      if (conv === '%') return '%';
      const val = key !== undefined ? (args as Dict)[key] : next();
      const w = width === '*' ? num(next()) : width ? Number(width) : 0;
      const p = prec === '*' ? num(next()) : prec !== undefined ? Number(prec) : undefined;
      let s: string;
      switch (conv) {
        case 'd':
        case 'i':
        case 'u':
          s = String(Math.trunc(num(val)));
          break;
        case 'f':
        case 'F':
          s = num(val).toFixed(p ?? 6);
          break;
        case 'e':
        case 'E':
          s = num(val)
            .toExponential(p ?? 6)
            .replace(/e([+-])(\d)$/, 'e$10$2');
          if (conv === 'E') s = s.toUpperCase();
          break;
        case 'g':
        case 'G':
          s = String(Number(num(val).toPrecision(p ?? 6)));
          break;
        case 'x':
          s = Math.trunc(num(val)).toString(16);
          break;
        case 'X':
          s = Math.trunc(num(val)).toString(16).toUpperCase();
          break;
        case 'o':
          s = Math.trunc(num(val)).toString(8);
          break;
        case 'c':
          s = typeof val === 'string' ? val : String.fromCodePoint(num(val));
          break;
        case 'r':
        case 'a':
          s = pyRepr(val);
          break;
        default:
          s = pyStr(val);
          if (p !== undefined) s = s.slice(0, p);
      }
      if (flags.includes('+') && 'dif'.includes(conv) && num(val) >= 0) s = `+${s}`;
      if (s.length < w) {
        if (flags.includes('-')) s = s.padEnd(w);
        else if (flags.includes('0') && 'diufFeEgGxXo'.includes(conv)) {
          const neg = s.startsWith('-') || s.startsWith('+');
          s = neg ? s[0] + s.slice(1).padStart(w - 1, '0') : s.padStart(w, '0');
        } else s = s.padStart(w);
      }
      return s;
    },
  );
  return out;
}

/** str.format with {}, {0}, {name}, {name.attr}, {0[key]} and simple format specs. */
export function strFormat(fmt: string, args: unknown[], kw: Dict): string {
  let auto = 0;
  return fmt.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, field: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const [ref = '', spec = ''] = (field ?? '').split(':', 2) as [string, string];
    const [path, conv] = ref.split('!', 2) as [string, string | undefined];
    const head = /^[^.[]*/.exec(path)![0];
    let val: unknown = head === '' ? args[auto++] : /^\d+$/.test(head) ? args[Number(head)] : kw[head];
    for (const part of path.slice(head.length).matchAll(/\.(\w+)|\[([^\]]+)\]/g)) {
      const k = part[1] ?? part[2]!;
      val = Array.isArray(val) && /^\d+$/.test(k) ? val[Number(k)] : (val as Dict)[k];
    }
    let s = conv === 'r' ? pyRepr(val) : pyStr(val);
    const sm = /^(.?[<>^])?([+ -])?(0)?(\d+)?(?:\.(\d+))?([sdfxXob%])?$/.exec(spec);
    if (spec && sm) {
      const [, align, , zero, width, prec, type] = sm;
      if (type === 'f' || (prec !== undefined && isNumber(val))) s = num(val).toFixed(Number(prec ?? 6));
      else if (type === 'x') s = num(val).toString(16);
      else if (type === 'X') s = num(val).toString(16).toUpperCase();
      else if (type === 'o') s = num(val).toString(8);
      else if (type === 'b') s = num(val).toString(2);
      else if (type === '%') s = `${(num(val) * 100).toFixed(Number(prec ?? 6))}%`;
      else if (prec !== undefined) s = s.slice(0, Number(prec));
      const w = width ? Number(width) : 0;
      if (s.length < w) {
        const fill = align && align.length === 2 ? align[0]! : zero ? '0' : ' ';
        const dir = align ? align[align.length - 1] : isNumber(val) ? '>' : '<';
        const pad = w - s.length;
        if (dir === '<') s = s + fill.repeat(pad);
        else if (dir === '^') s = fill.repeat(Math.floor(pad / 2)) + s + fill.repeat(Math.ceil(pad / 2));
        else s = fill.repeat(pad) + s;
      }
    }
    return s;
  });
}

/* ---------------------------------------------------------------- literal_eval */

/**
 * ast.literal_eval of Python literals (plus JSON's true/false/null, as Ansible maps them):
 * used to turn rendered text that looks like a list, dict or bool back into a value.
 * Returns `undefined` when the text is not a literal.
 */
export function literalEval(text: string): unknown {
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const fail = (): never => {
    throw new SyntaxError('not a literal');
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      ws();
      while (s[i] !== close) {
        out.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          ws();
        } else if (s[i] !== close) fail();
      }
      i++;
      return out;
    }
    if (c === '{') {
      i++;
      const out: Dict = {};
      ws();
      while (s[i] !== '}') {
        const k = value();
        ws();
        if (s[i] !== ':') fail();
        i++;
        out[pyStr(k)] = value();
        ws();
        if (s[i] === ',') {
          i++;
          ws();
        } else if (s[i] !== '}') fail();
      }
      i++;
      return out;
    }
    if (c === "'" || c === '"') return str();
    if (c === 'b' && (s[i + 1] === "'" || s[i + 1] === '"')) fail();
    const m =
      /^(?:[-+]?(?:\d[\d_]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+)|True|False|None)/.exec(
        s.slice(i),
      );
    if (!m) return fail();
    i += m[0].length;
    switch (m[0]) {
      case 'True':
        return true;
      case 'False':
        return false;
      case 'None':
        return null;
    }
    const t = m[0].replace(/_/g, '');
    if (/^[-+]?0[xX]/.test(t)) return Number.parseInt(t, 16);
    const n = Number(t);
    return /[.eE]/.test(t) ? makeFloat(n) : n;
  };
  const str = (): string => {
    let out = '';
    while (s[i] === "'" || s[i] === '"') {
      const q = s[i]!;
      const triple = s.slice(i, i + 3) === q.repeat(3);
      i += triple ? 3 : 1;
      for (;;) {
        if (i >= s.length) fail();
        if (triple ? s.slice(i, i + 3) === q.repeat(3) : s[i] === q) {
          i += triple ? 3 : 1;
          break;
        }
        if (s[i] === '\\') {
          const e = s[i + 1];
          i += 2;
          const simple: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            "'": "'",
            '"': '"',
            '0': '\0',
            a: '\x07',
            b: '\b',
            f: '\f',
            v: '\v',
            '\n': '',
          };
          if (e !== undefined && e in simple) out += simple[e];
          else if (e === 'x' || e === 'u' || e === 'U') {
            const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            out += String.fromCodePoint(Number.parseInt(s.slice(i, i + n), 16));
            i += n;
          } else out += `\\${e ?? ''}`;
        } else {
          if (!triple && s[i] === '\n') fail();
          out += s[i];
          i++;
        }
      }
      ws();
    }
    return out;
  };
  try {
    const v = value();
    ws();
    if (i !== s.length) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** Deep copy into plain JSON-like data: PyFloat to number, Undefined fails. */
export function toPlain(v: unknown): unknown {
  if (v instanceof PyFloat) return v.v;
  if (v instanceof Undefined) v.fail();
  if (Array.isArray(v)) return v.map(toPlain);
  if (isDict(v)) {
    const out: Dict = {};
    for (const [k, x] of Object.entries(v)) out[k] = toPlain(x);
    return out;
  }
  return v;
}

export { isUndefined };
