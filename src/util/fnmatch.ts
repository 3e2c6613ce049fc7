/**
 * Python's fnmatch and glob rules, which Ansible uses for `--start-at-task`, setup's
 * `filter`, `with_fileglob` and the `fileglob` lookup: `*` any run of characters, `?` one
 * character, `[seq]` / `[!seq]` a character class, an unclosed `[` a literal; anchored at
 * both ends, case-sensitive (fnmatchcase; POSIX fnmatch does not fold case).
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';

const cache = new Map<string, RegExp>();

/** The pattern as an anchored RegExp, the way Python's fnmatch.translate builds it. */
export function fnmatchRegExp(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let re = '';
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i++]!;
    if (c === '*') {
      re += '[\\s\\S]*';
      while (pattern[i] === '*') i++;
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '[') {
      let j = i;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i, j);
      i = j + 1;
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      // Inside a class only `\`, `]` and `^` (leading) need escaping for a JS RegExp.
      body = body.replace(/[\\\]]/g, '\\$&').replace(/^\^/, '\\^');
      re += body === '' ? (negate ? '[\\s\\S]' : '(?!)') : `[${negate ? '^' : ''}${body}]`;
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  const out = new RegExp(`^(?:${re})$`, 'u');
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, out);
  return out;
}

export function fnmatch(name: string, pattern: string): boolean {
  return fnmatchRegExp(pattern).test(name);
}

/**
 * Python's glob.glob for a pattern whose wildcards are in the last path component (what
 * Ansible's fileglob accepts in practice): names starting with `.` match only a pattern
 * starting with `.`; regular files only; sorted.
 */
export function fileGlob(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = basename(pattern);
  const re = fnmatchRegExp(base);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n) && (base.startsWith('.') || !n.startsWith('.')))
    .map((n) => join(dir, n))
    .filter(isFile)
    .sort();
}

/**
 * Ansible's fileglob over a search path: an absolute pattern as is; a relative one in each
 * dir's `files/`, then the dir itself, the first place with matches winning.
 */
export function searchPathGlob(pattern: string, searchPath: readonly string[]): string[] {
  if (isAbsolute(pattern)) return fileGlob(pattern);
  for (const dir of searchPath) {
    for (const base of [join(dir, 'files'), dir]) {
      const found = fileGlob(join(base, pattern));
      if (found.length > 0) return found;
    }
  }
  return [];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
