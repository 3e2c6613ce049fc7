/**
 * Python's `ast.literal_eval`, as Ansible's INI inventory applies it to every `key=value`
 * (inline host vars and `[group:vars]` alike, measured on ansible-core 2.14): `80` is an
 * int, `True` a bool, `"[1,2]"` a list, while `yes`, `true` or `a b` stay strings because
 * Python cannot evaluate them. Tuples become arrays (as Ansible's JSON output shows them).
 */

export type LiteralResult = { ok: true; value: unknown } | { ok: false };

class NotLiteral extends Error {}

interface Tok {
  kind: 'num' | 'str' | 'name' | 'op' | 'end';
  text: string;
  value?: unknown;
}

const NUM =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?)/;
const NAME = /^[\p{L}_][\p{L}\p{N}_]*/u;

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\f') {
      i++;
      continue;
    }
    if (c === '#') break; // a comment runs to the end of the line
    if (c === '\n' || c === '\r') throw new NotLiteral();
    const rest = src.slice(i);
    const strPrefix = /^([rRbBuU]|[rR][bB]|[bB][rR])?(['"])/.exec(rest);
    if (strPrefix) {
      const prefix = (strPrefix[1] ?? '').toLowerCase();
      const q = strPrefix[2]!;
      const start = i + strPrefix[0].length - 1;
      const triple = src.startsWith(q.repeat(3), start);
      const [value, end] = readString(src, start, q, triple, prefix.includes('r'));
      toks.push({ kind: 'str', text: src.slice(i, end), value });
      i = end;
      continue;
    }
    const num = NUM.exec(rest);
    if (num && /[0-9.]/.test(c) && !(c === '.' && !/^\.\d/.test(rest))) {
      const text = num[0];
      if (/^\d/.test(rest.slice(text.length)) || NAME.test(rest.slice(text.length))) throw new NotLiteral();
      toks.push({ kind: 'num', text, value: parseNumber(text) });
      i += text.length;
      continue;
    }
    const name = NAME.exec(rest);
    if (name) {
      toks.push({ kind: 'name', text: name[0] });
      i += name[0].length;
      continue;
    }
    if ('[](){},:+-'.includes(c)) {
      toks.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    throw new NotLiteral();
  }
  toks.push({ kind: 'end', text: '' });
  return toks;
}

function parseNumber(text: string): unknown {
  const t = text.replace(/_/g, '');
  if (/[jJ]$/.test(t)) throw new NotLiteral(); // complex numbers have no JSON form
  if (/^0[xX]/.test(t)) return Number.parseInt(t.slice(2), 16);
  if (/^0[oO]/.test(t)) return Number.parseInt(t.slice(2), 8);
  if (/^0[bB]/.test(t)) return Number.parseInt(t.slice(2), 2);
  if (/^\d+$/.test(t)) {
    // Python 3 rejects leading zeros in decimal ints ("010"), except all-zero ("00").
    if (t.length > 1 && t[0] === '0' && /[1-9]/.test(t)) throw new NotLiteral();
    return Number(t);
  }
  return Number(t);
}

function readString(src: string, start: number, q: string, triple: boolean, raw: boolean): [string, number] {
  let i = start + (triple ? 3 : 1);
  let out = '';
  while (i < src.length) {
    if (triple ? src.startsWith(q.repeat(3), i) : src[i] === q) return [out, i + (triple ? 3 : 1)];
    const c = src[i]!;
    if (!triple && (c === '\n' || c === '\r')) throw new NotLiteral();
    if (c === '\\' && i + 1 < src.length) {
      const n = src[i + 1]!;
      if (raw) {
        out += c + n;
        i += 2;
        continue;
      }
      const simple: Record<string, string> = {
        '\\': '\\',
        "'": "'",
        '"': '"',
        a: '\x07',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
        '\n': '',
      };
      if (n in simple) {
        out += simple[n];
        i += 2;
        continue;
      }
      const hex =
        n === 'x' ? /^[0-9a-fA-F]{2}/ : n === 'u' ? /^[0-9a-fA-F]{4}/ : n === 'U' ? /^[0-9a-fA-F]{8}/ : null;
      if (hex) {
        const m = hex.exec(src.slice(i + 2));
        if (!m) throw new NotLiteral();
        out += String.fromCodePoint(Number.parseInt(m[0], 16));
        i += 2 + m[0].length;
        continue;
      }
      const oct = /^[0-7]{1,3}/.exec(src.slice(i + 1));
      if (oct) {
        out += String.fromCodePoint(Number.parseInt(oct[0], 8));
        i += 1 + oct[0].length;
        continue;
      }
      out += c + n; // Python keeps unknown escapes as written
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  throw new NotLiteral();
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private isOp(t: string): boolean {
    const p = this.peek();
    return p.kind === 'op' && p.text === t;
  }
  private expect(t: string): void {
    if (!this.isOp(t)) throw new NotLiteral();
    this.i++;
  }

  /** A whole expression: a bare `1, 2` is a tuple. */
  top(): unknown {
    const first = this.expr();
    if (!this.isOp(',')) {
      if (this.peek().kind !== 'end') throw new NotLiteral();
      return first;
    }
    const items = [first];
    while (this.isOp(',')) {
      this.i++;
      if (this.peek().kind === 'end') break;
      items.push(this.expr());
    }
    if (this.peek().kind !== 'end') throw new NotLiteral();
    return items;
  }

  private expr(): unknown {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      // Python allows one sign on a number literal (parentheses vanish in its AST, so
      // `-(1)` counts) but not `--1`, `-(-1)` or `-True`.
      this.i++;
      let opens = 0;
      while (this.isOp('(')) {
        this.i++;
        opens++;
      }
      const operand = this.next();
      if (operand.kind !== 'num') throw new NotLiteral();
      for (; opens > 0; opens--) this.expect(')');
      const n = operand.value as number;
      // Binary +/- is only allowed for complex numbers, which we reject anyway.
      if (this.isOp('+') || this.isOp('-')) throw new NotLiteral();
      return t.text === '-' ? -n : n;
    }
    const v = this.atom();
    if (this.isOp('+') || this.isOp('-')) throw new NotLiteral();
    return v;
  }

  private atom(): unknown {
    const t = this.next();
    if (t.kind === 'num') return t.value;
    if (t.kind === 'str') {
      let s = t.value as string;
      while (this.peek().kind === 'str') s += this.next().value as string; // implicit concatenation
      return s;
    }
    if (t.kind === 'name') {
      if (t.text === 'True') return true;
      if (t.text === 'False') return false;
      if (t.text === 'None') return null;
      throw new NotLiteral();
    }
    if (t.kind === 'op' && t.text === '[') return this.seq(']');
    if (t.kind === 'op' && t.text === '(') {
      if (this.isOp(')')) {
        this.i++;
        return [];
      }
      const first = this.expr();
      if (this.isOp(')')) {
        this.i++;
        return first; // parentheses, not a tuple
      }
      const items = [first];
      while (this.isOp(',')) {
        this.i++;
        if (this.isOp(')')) break;
        items.push(this.expr());
      }
      this.expect(')');
      return items;
    }
    if (t.kind === 'op' && t.text === '{') return this.dict();
    throw new NotLiteral();
  }

  private seq(close: string): unknown[] {
    const items: unknown[] = [];
    while (!this.isOp(close)) {
      items.push(this.expr());
      if (this.isOp(',')) this.i++;
      else break;
    }
    this.expect(close);
    return items;
  }

  private dict(): unknown {
    if (this.isOp('}')) {
      this.i++;
      return {};
    }
    const first = this.expr();
    if (!this.isOp(':')) throw new NotLiteral(); // a set: no JSON form
    // Python dict keys compare by value: True and 1 are one key, written as the first spelling.
    const out: Record<string, unknown> = {};
    const names = new Map<string, string>();
    const put = (k: unknown, v: unknown): void => {
      const id =
        typeof k === 'boolean'
          ? String(Number(k))
          : typeof k === 'number'
            ? String(k)
            : `${typeof k}:${String(k)}`;
      let name = names.get(id);
      if (name === undefined) {
        name = dictKey(k);
        names.set(id, name);
      }
      out[name] = v;
    };
    this.i++;
    put(first, this.expr());
    while (this.isOp(',')) {
      this.i++;
      if (this.isOp('}')) break;
      const k = this.expr();
      this.expect(':');
      put(k, this.expr());
    }
    this.expect('}');
    return out;
  }
}

function dictKey(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'boolean' || k === null) {
    // json.dumps writes Python's True/None keys as "true"/"null".
    return k === null ? 'null' : String(k);
  }
  throw new NotLiteral(); // lists are unhashable in Python
}

/** Evaluates `src` as a Python literal; `{ ok: false }` when Python would raise. */
export function pythonLiteral(src: string): LiteralResult {
  try {
    const toks = tokenize(src.replace(/^[ \t]+/, ''));
    if (toks.length === 1) return { ok: false };
    return { ok: true, value: new Parser(toks).top() };
  } catch (e) {
    if (e instanceof NotLiteral) return { ok: false };
    throw e;
  }
}

/** The value Ansible's INI plugin stores for `key=value`. */
export function iniValue(src: string): unknown {
  const r = pythonLiteral(src);
  return r.ok ? r.value : src;
}
