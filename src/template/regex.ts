/** Python `re` patterns and replacement strings translated to JavaScript RegExp. */

export function pyRegex(
  pattern: string,
  opts: { ignorecase?: boolean; multiline?: boolean; global?: boolean },
): RegExp {
  let src = pattern
    .replace(/\(\?P<(\w+)>/g, '(?<$1>')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/\\Z/g, '$(?![\\s\\S])')
    .replace(/\\A/g, '(?<![\\s\\S])');
  let flags = opts.global ? 'g' : '';
  // Inline flags at the start, as Python allows: (?i), (?m), (?s), (?x is not supported).
  const inline = /^\(\?([imsx]+)\)/.exec(src);
  if (inline) {
    src = src.slice(inline[0].length);
    for (const f of inline[1]!) if (f !== 'x' && !flags.includes(f)) flags += f;
  }
  if (opts.ignorecase && !flags.includes('i')) flags += 'i';
  if (opts.multiline && !flags.includes('m')) flags += 'm';
  return new RegExp(src, `${flags}u`.replace(/u$/, isUnicodeSafe(src) ? 'u' : ''));
}

function isUnicodeSafe(src: string): boolean {
  try {
    new RegExp(src, 'u');
    return true;
  } catch {
    return false;
  }
}

/** Expand a Python re.sub replacement (\1, \g<1>, \g<name>, \n, \\) for one match. */
export function pyReplacement(repl: string, match: unknown[]): string {
  const last = match[match.length - 1];
  const groups =
    typeof last === 'object' && last !== null ? (last as Record<string, string | undefined>) : undefined;
  const numbered = match.slice(0, groups ? -3 : -2) as (string | undefined)[];
  return repl.replace(/\\(g<(\w+)>|\d{1,2}|n|t|r|\\)/g, (_m, body: string, name: string | undefined) => {
    if (name !== undefined) {
      if (/^\d+$/.test(name)) return numbered[Number(name)] ?? '';
      return groups?.[name] ?? '';
    }
    if (body === 'n') return '\n';
    if (body === 't') return '\t';
    if (body === 'r') return '\r';
    if (body === '\\') return '\\';
    return numbered[Number(body)] ?? '';
  });
}
