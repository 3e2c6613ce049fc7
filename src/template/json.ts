/** Python's json.dumps output shape (", " and ": " separators, ensure_ascii), as Ansible's to_json prints. */
import { type Dict, isDict, PyFloat, pyStr } from './python.js';
import { Undefined } from './undefined.js';

export interface JsonOpts {
  indent?: number | undefined;
  sortKeys?: boolean;
  separators?: [string, string];
  ensureAscii?: boolean;
}

function quote(s: string, ascii: boolean): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (ascii && c > 0x7e) {
      if (c > 0xffff) {
        const hi = Math.floor((c - 0x10000) / 0x400) + 0xd800;
        const lo = ((c - 0x10000) % 0x400) + 0xdc00;
        out += `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
      } else out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

export function pyJsonDumps(v: unknown, opts: JsonOpts = {}): string {
  const indent = opts.indent;
  const [itemSep, keySep] = opts.separators ?? (indent !== undefined ? [',', ': '] : [', ', ': ']);
  const ascii = opts.ensureAscii ?? true;
  const enc = (x: unknown, level: number): string => {
    if (x instanceof Undefined) x.fail();
    if (x === null || x === undefined) return 'null';
    if (x === true) return 'true';
    if (x === false) return 'false';
    if (x instanceof PyFloat) return pyStr(x);
    if (typeof x === 'number') {
      if (Number.isNaN(x)) return 'NaN';
      if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
      return pyStr(x);
    }
    if (typeof x === 'string') return quote(x, ascii);
    if (x instanceof Date) return quote(x.toISOString(), ascii);
    const nl = indent !== undefined ? `\n${' '.repeat(indent * (level + 1))}` : '';
    const end = indent !== undefined ? `\n${' '.repeat(indent * level)}` : '';
    if (Array.isArray(x)) {
      if (x.length === 0) return '[]';
      return `[${nl}${x.map((e) => enc(e, level + 1)).join(itemSep + nl)}${end}]`;
    }
    if (isDict(x)) {
      let keys = Object.keys(x);
      if (keys.length === 0) return '{}';
      if (opts.sortKeys) keys = keys.sort();
      return `{${nl}${keys.map((k) => quote(k, ascii) + keySep + enc((x as Dict)[k], level + 1)).join(itemSep + nl)}${end}}`;
    }
    return quote(pyStr(x), ascii);
  };
  return enc(v, 0);
}
