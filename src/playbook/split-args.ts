/**
 * Ansible's `key=value` argument strings: `split_args`, `parse_kv` and `join_args` from
 * ansible/parsing/splitter.py (2.14), reproduced rule for rule so `copy: src=a dest="b c"`
 * and free-form `command`/`shell` lines split exactly as Ansible splits them. Tests compare
 * with the Python originals.
 */

/** Raised for unbalanced quotes or Jinja blocks; the loader turns it into a Problem. */
export class SplitArgsError extends Error {}

/** Keys parse_kv keeps apart from the free-form text of command/shell/raw/script. */
export const FREE_FORM_KEYS: ReadonlySet<string> = new Set([
  'creates',
  'removes',
  'chdir',
  'executable',
  'warn',
  'stdin',
  'stdin_add_newline',
  'strip_empty_ends',
]);

function quoteState(token: string, quoteChar: string | undefined): string | undefined {
  let q = quoteChar;
  for (let i = 0; i < token.length; i++) {
    const c = token[i]!;
    const prev = i > 0 ? token[i - 1] : undefined;
    if ((c === '"' || c === "'") && prev !== '\\') {
      if (q) {
        if (c === q) q = undefined;
      } else {
        q = c;
      }
    }
  }
  return q;
}

function countOccurrences(s: string, sub: string): number {
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}

function jinjaDepth(token: string, depth: number, open: string, close: string): number {
  const o = countOccurrences(token, open);
  const c = countOccurrences(token, close);
  if (o === c) return depth;
  return Math.max(0, depth + o - c);
}

/**
 * Split on whitespace, but keep quoted strings and Jinja blocks (`{{ }}`, `{% %}`,
 * `{# #}`) together, preserving their inner spacing and newlines.
 */
export function splitArgs(args: string): string[] {
  const params: string[] = [];
  const items = args.split('\n');
  let quoteChar: string | undefined;
  let insideQuotes = false;
  let printDepth = 0;
  let blockDepth = 0;
  let commentDepth = 0;
  const appendLast = (s: string): void => {
    // Python raises IndexError on params[-1] of an empty list; parse_kv reports it.
    if (params.length === 0) throw new SplitArgsError('Unable to parse argument string');
    params[params.length - 1] += s;
  };
  const setLast = (s: string): void => {
    if (params.length === 0) throw new SplitArgsError('Unable to parse argument string');
    params[params.length - 1] = s;
  };
  const last = (): string => {
    if (params.length === 0) throw new SplitArgsError('Unable to parse argument string');
    return params[params.length - 1]!;
  };

  items.forEach((item, itemIdx) => {
    const tokens = item.split(' ');
    let lineContinuation = false;
    tokens.forEach((token, idx) => {
      if (token.length === 0 && idx !== 0) {
        appendLast(' ');
        return;
      }
      if (token === '\\' && !insideQuotes) {
        lineContinuation = true;
        return;
      }
      const wasInsideQuotes = insideQuotes;
      quoteChar = quoteState(token, quoteChar);
      insideQuotes = quoteChar !== undefined;
      let appended = false;
      const inJinja = printDepth > 0 || blockDepth > 0 || commentDepth > 0;
      if (insideQuotes && !wasInsideQuotes && !inJinja) {
        params.push(token);
        appended = true;
      } else if (inJinja || insideQuotes || wasInsideQuotes) {
        if (idx === 0 && wasInsideQuotes) setLast(`${last()}${token}`);
        else if (tokens.length > 1) setLast(`${last()}${idx > 0 ? ' ' : ''}${token}`);
        else setLast(`${last()}\n${token}`);
        appended = true;
      }
      const prevPrint = printDepth;
      printDepth = jinjaDepth(token, printDepth, '{{', '}}');
      if (printDepth !== prevPrint && !appended) {
        params.push(token);
        appended = true;
      }
      const prevBlock = blockDepth;
      blockDepth = jinjaDepth(token, blockDepth, '{%', '%}');
      if (blockDepth !== prevBlock && !appended) {
        params.push(token);
        appended = true;
      }
      const prevComment = commentDepth;
      commentDepth = jinjaDepth(token, commentDepth, '{#', '#}');
      if (commentDepth !== prevComment && !appended) {
        params.push(token);
        appended = true;
      }
      if (!(printDepth || blockDepth || commentDepth) && !insideQuotes && !appended && token !== '') {
        params.push(token);
      }
    });
    if (items.length > 1 && itemIdx !== items.length - 1 && !lineContinuation) appendLast('\n');
  });
  if (printDepth || blockDepth || commentDepth || insideQuotes) {
    throw new SplitArgsError(
      `failed at splitting arguments, either an unbalanced jinja2 block or quotes: ${args}`,
    );
  }
  return params;
}

/** Re-join split_args output, keeping the original newlines. */
export function joinArgs(parts: readonly string[]): string {
  let result = '';
  for (const p of parts) {
    if (result.length === 0 || result.endsWith('\n')) result += p;
    else result += ` ${p}`;
  }
  return result;
}

function isQuoted(s: string): boolean {
  return (
    s.length > 1 && s[0] === s[s.length - 1] && (s[0] === '"' || s[0] === "'") && s[s.length - 2] !== '\\'
  );
}

/** Remove one pair of matching outer quotes (ansible.parsing.quoting.unquote). */
export function unquote(s: string): string {
  return isQuoted(s) ? s.slice(1, -1) : s;
}

const SIMPLE_ESCAPES: Record<string, string> = {
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
};

/** Python's unicode-escape decoding, applied only to well-formed escape sequences. */
function decodeEscapes(s: string): string {
  return s.replace(
    /\\U([0-9a-fA-F]{8})|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\([\\'"abfnrtv])/g,
    (m, u8: string | undefined, u4: string | undefined, x2: string | undefined, c: string | undefined) => {
      const hex = u8 ?? u4 ?? x2;
      if (hex !== undefined) {
        const cp = Number.parseInt(hex, 16);
        return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
      }
      return SIMPLE_ESCAPES[c!] ?? m;
    },
  );
}

/**
 * Turn `a=1 b="x y"` into `{a: '1', b: 'x y'}`. With `checkRaw` (the free-form modules),
 * words that are not one of FREE_FORM_KEYS stay in `_raw_params`, in their original text.
 */
export function parseKv(args: string, checkRaw = false): Record<string, string> {
  const options: Record<string, string> = {};
  const vargs = splitArgs(args);
  const raw: string[] = [];
  for (const orig of vargs) {
    const x = decodeEscapes(orig);
    if (!x.includes('=')) {
      raw.push(orig);
      continue;
    }
    // The first `=` not preceded by a backslash, searching from index 1 like Python does.
    let pos = -1;
    for (let i = x.indexOf('=', 1); i >= 0; i = x.indexOf('=', i + 1)) {
      if (x[i - 1] !== '\\') {
        pos = i;
        break;
      }
    }
    if (pos < 0) {
      raw.push(x.replaceAll('\\=', '='));
      continue;
    }
    const k = x.slice(0, pos);
    const v = x.slice(pos + 1);
    if (checkRaw && !FREE_FORM_KEYS.has(k)) raw.push(orig);
    else options[k.trim()] = unquote(v.trim());
  }
  if (raw.length > 0) options._raw_params = joinArgs(raw);
  return options;
}
