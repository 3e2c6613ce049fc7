/**
 * A syntax-only check of the Jinja in conditionals (`when`, `changed_when`, `failed_when`,
 * `until`, `assert.that`), done with nunjucks' parser so a typo is reported at load time
 * with the task's position. Nothing is evaluated; the template engine does that per host.
 */
import nunjucks from 'nunjucks';

/** nunjucks exports its parser at run time, but @types/nunjucks does not declare it. */
const parser = (
  nunjucks as unknown as { parser: { parse(src: string, ext: unknown[], opts: object): unknown } }
).parser;

/**
 * Jinja allows `item.0` (attribute access by a digit); nunjucks' parser does not, so the
 * digits become subscripts before parsing. Strings are left alone.
 */
function toNunjucksSyntax(expr: string): string {
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
    const m = c === '.' && /^\.(\d+)(?!\w)/.exec(expr.slice(i));
    if (m && /(?:[A-Za-z_]\w*|[\])])$/.test(out)) {
      out += `[${m[1]}]`;
      i += m[0].length - 1;
      continue;
    }
    out += c;
  }
  return out;
}

function parseError(text: string): string | undefined {
  try {
    parser.parse(toNunjucksSyntax(text), [], {});
    return undefined;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
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
