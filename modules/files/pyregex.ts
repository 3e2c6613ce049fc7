/**
 * Python `re` patterns and replacement templates on the controller. lineinfile, replace,
 * blockinfile and ini_file match in TypeScript (the file is read back first), so the
 * pattern dialect only has to be translated to JavaScript, never to sed.
 * Translated: (?P<name>...), (?P=name), \A, \Z, leading inline flags (?aiLmsux).
 * Python's replacement templates (\1, \g<1>, \g<name>, \n, \\) are expanded by hand.
 */

export class PyRegexError extends Error {}

export function pyRegex(pattern: string, extraFlags = ''): RegExp {
  let flags = new Set(extraFlags.split('').filter(Boolean));
  let src = pattern;
  const lead = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) if ('ims'.includes(f)) flags.add(f);
    src = src.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'Z') out += '(?![\\s\\S])';
      else out += c + (n ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (src[i + 1] === '^') out += src[++i];
      if (src[i + 1] === ']') out += src[++i];
      continue;
    }
    if (src.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    const back = /^\(\?P=(\w+)\)/.exec(src.slice(i));
    if (back) {
      out += `\\k<${back[1]}>`;
      i += back[0].length - 1;
      continue;
    }
    out += c;
  }
  flags = new Set([...flags].filter((f) => 'dgimsuy'.includes(f)));
  try {
    return new RegExp(out, [...flags].join(''));
  } catch (e) {
    throw new PyRegexError(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  f: '\f',
  v: '\v',
  a: '\x07',
  b: '\b',
  '\\': '\\',
};

/** Python's Match.expand: \1..\99, \g<n>, \g<name>, and the usual escapes; unmatched groups are ''. */
export function pyExpand(template: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const rest = template.slice(i + 1);
    const g = /^g<([^>]+)>/.exec(rest);
    if (g) {
      const key = g[1]!;
      const v = /^\d+$/.test(key) ? m[Number(key)] : m.groups?.[key];
      if (/^\d+$/.test(key) ? Number(key) >= m.length : !(m.groups && key in m.groups)) {
        throw new PyRegexError(`invalid group reference ${key}`);
      }
      out += v ?? '';
      i += g[0].length;
      continue;
    }
    const d = /^\d{1,2}/.exec(rest);
    if (d) {
      const n = Number(d[0]);
      if (n >= m.length) throw new PyRegexError(`invalid group reference ${n}`);
      out += m[n] ?? '';
      i += d[0].length;
      continue;
    }
    const e = rest[0];
    if (e !== undefined && e in ESCAPES) {
      out += ESCAPES[e];
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

/** re.subn(pattern, repl, text) with Python's template expansion. */
export function pySubn(re: RegExp, repl: string, text: string): [string, number] {
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  let count = 0;
  const result = text.replace(g, (...args: unknown[]) => {
    count++;
    const groupsArg = args[args.length - 1];
    const hasGroups = typeof groupsArg === 'object' && groupsArg !== null;
    const end = hasGroups ? args.length - 3 : args.length - 2;
    const m = args.slice(0, end) as string[];
    const exec = Object.assign([...m], {
      index: args[end] as number,
      input: text,
      groups: hasGroups ? (groupsArg as Record<string, string>) : undefined,
    }) as unknown as RegExpExecArray;
    return pyExpand(repl, exec);
  });
  return [result, count];
}
