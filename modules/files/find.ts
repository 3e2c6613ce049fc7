/**
 * find: the target lists entries (`find` + batched `stat -c`, one line per entry) and the
 * controller applies Ansible's filters (fnmatch or Python-regex patterns, excludes, hidden,
 * age, size, file_type). `contains` needs the candidates' text: a second step reads them.
 * Limitation: a name containing a newline cannot be represented in the listing and is skipped.
 */
import { quote } from '../../src/shell/quote.js';
import { parseReport } from '../sh/protocol.js';
import { shScript } from '../sh/script.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { failureFrom } from './common.js';
import { PyRegexError, pyRegex } from './pyregex.js';

export interface FindArgs {
  paths: string[];
  patterns: string[];
  excludes?: string[];
  contains?: string;
  read_whole_file: boolean;
  file_type: 'any' | 'directory' | 'file' | 'link';
  age?: string;
  age_stamp: 'atime' | 'ctime' | 'mtime';
  size?: string;
  recurse: boolean;
  hidden: boolean;
  follow: boolean;
  get_checksum: boolean;
  use_regex: boolean;
  depth?: number;
}

const FIND_BODY = String.raw`
dr_find() {
  case $1 in '~'|'~/'*) set -- "$HOME${'$'}{1#'~'}" ;; esac
  if [ ! -d "$1" ]; then dr_out64 skip "$1"; return 0; fi
  find $dr_follow "$1" -mindepth 1 $dr_depth -exec stat -c 'e=%f %u %g %s %X %Y %Z %i %d %h %U %G %n' {} + 2>/dev/null
}
`;

/** Python fnmatch.fnmatch on POSIX: case-sensitive glob with *, ?, [seq], [!seq]. */
export function fnmatch(name: string, pattern: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '[') {
      const j = pattern.indexOf(']', i + 2);
      if (j < 0) re += '\\[';
      else {
        let set = pattern.slice(i + 1, j);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        else if (set.startsWith('^')) set = `\\${set}`;
        re += `[${set.replaceAll('\\', '\\\\')}]`;
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(name);
}

function parseAmount(
  v: string | undefined,
  units: Record<string, number>,
  re: RegExp,
): number | null | undefined {
  if (v === undefined) return undefined;
  const m = re.exec(v.toLowerCase());
  if (!m) return null;
  return Number.parseInt(m[1]!, 10) * (m[2] ? units[m[2]]! : 1);
}

interface Entry {
  path: string;
  name: string;
  st: Record<string, unknown>;
  fmt: number;
}

function parseEntry(line: string): Entry | undefined {
  const f = line.split(' ');
  if (f.length < 13) return undefined;
  const path = f.slice(12).join(' ');
  const raw = Number.parseInt(f[0]!, 16);
  const n = (i: number) => Number.parseInt(f[i]!, 10);
  const perm = raw & 0o7777;
  const fmt = raw & 0o170000;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const st: Record<string, unknown> = {
    path,
    mode: perm.toString(8).padStart(4, '0'),
    isdir: fmt === 0o040000,
    ischr: fmt === 0o020000,
    isblk: fmt === 0o060000,
    isreg: fmt === 0o100000,
    isfifo: fmt === 0o010000,
    islnk: fmt === 0o120000,
    issock: fmt === 0o140000,
    uid: n(1),
    gid: n(2),
    size: n(3),
    inode: n(7),
    dev: n(8),
    nlink: n(9),
    atime: n(4),
    mtime: n(5),
    ctime: n(6),
    gr_name: f[11] === 'UNKNOWN' ? '' : f[11],
    pw_name: f[10] === 'UNKNOWN' ? '' : f[10],
    wusr: (perm & 0o200) !== 0,
    rusr: (perm & 0o400) !== 0,
    xusr: (perm & 0o100) !== 0,
    wgrp: (perm & 0o020) !== 0,
    rgrp: (perm & 0o040) !== 0,
    xgrp: (perm & 0o010) !== 0,
    woth: (perm & 0o002) !== 0,
    roth: (perm & 0o004) !== 0,
    xoth: (perm & 0o001) !== 0,
    isuid: (perm & 0o4000) !== 0,
    isgid: (perm & 0o2000) !== 0,
  };
  return { path, name, st, fmt };
}

function planFind(args: FindArgs, ctx: PlanContext): Step | TaskResult {
  const patterns = args.patterns.length > 0 ? args.patterns : [args.use_regex ? '.*' : '*'];
  const excludes = args.excludes ?? [];
  const age = parseAmount(args.age, { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }, /^(-?\d+)(s|m|h|d|w)?$/);
  if (age === null) return { failed: true, age: args.age, msg: 'failed to process age' };
  const size = parseAmount(
    args.size,
    { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 },
    /^(-?\d+)(b|k|m|g|t)?$/,
  );
  if (size === null) return { failed: true, size: args.size, msg: 'failed to process size' };
  let pmatch: (name: string, p: string) => boolean = fnmatch;
  let contains: RegExp | undefined;
  try {
    if (args.use_regex) {
      for (const p of [...patterns, ...excludes]) pyRegex(p);
      pmatch = (name, p) => startsAt(pyRegex(p), name);
    }
    if (args.contains !== undefined) contains = pyRegex(args.contains);
  } catch (e) {
    if (e instanceof PyRegexError) return { failed: true, msg: e.message };
    throw e;
  }
  const pfilter = (name: string) => {
    for (const p of patterns) {
      if (pmatch(name, p)) return !excludes.some((e) => pmatch(name, e));
    }
    return false;
  };
  const depth = args.recurse ? (args.depth ? `-maxdepth ${args.depth}` : '') : '-maxdepth 1';
  const calls = args.paths.map((p) => `dr_find ${quote(p.startsWith('-') ? `./${p}` : p)}`).join('\n');
  const now = Math.floor(Date.now() / 1000);
  return {
    script: shScript({
      check: ctx.check,
      vars: { dr_follow: args.follow ? '-L' : '', dr_depth: depth },
      body: `${FIND_BODY}\n${calls}`,
    }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('find', r, report);
      if (failed) return failed;
      const skipped: Record<string, string> = {};
      const skips = report.all('skip');
      for (const p of skips) skipped[p] = `'${p}' is not a directory`;
      const entries = report
        .all('e')
        .map(parseEntry)
        .filter((e): e is Entry => e !== undefined);
      const stamp = args.age_stamp;
      const ageOk = (e: Entry) => {
        if (age === undefined) return true;
        const t = e.st[stamp] as number;
        return age >= 0 ? now - t >= Math.abs(age) : now - t <= Math.abs(age);
      };
      const sizeOk = (e: Entry) => {
        if (size === undefined) return true;
        const sz = e.st.size as number;
        return size >= 0 ? sz >= Math.abs(size) : sz <= Math.abs(size);
      };
      const files: Entry[] = [];
      for (const e of entries) {
        if (e.name.startsWith('.') && !args.hidden) continue;
        const common = pfilter(e.name) && ageOk(e);
        if (args.file_type === 'any') {
          if (common && (e.fmt !== 0o100000 || sizeOk(e))) files.push(e);
        } else if (args.file_type === 'directory' && e.fmt === 0o040000) {
          if (common) files.push(e);
        } else if (args.file_type === 'file' && e.fmt === 0o100000) {
          if (common && sizeOk(e)) files.push(e);
        } else if (args.file_type === 'link' && e.fmt === 0o120000) {
          if (common) files.push(e);
        }
      }
      const msg =
        skips.length > 0 ? 'Not all paths examined, check warnings for details' : 'All paths examined';
      const warnings = Object.entries(skipped).map(
        ([p, s]) => `Skipped '${p}' path due to this access issue: ${s}`,
      );
      const finish = (list: Entry[], sums?: Map<string, string>): TaskResult => {
        const res: TaskResult = {
          changed: false,
          msg,
          files: list.map((e) => (sums?.has(e.path) ? { ...e.st, checksum: sums.get(e.path) } : e.st)),
          matched: list.length,
          examined: entries.length,
          skipped_paths: skipped,
        };
        if (warnings.length > 0) res.warnings = warnings;
        return res;
      };
      const regular = files.filter((e) => e.fmt === 0o100000);
      if (!contains && !args.get_checksum) return finish(files);
      if (regular.length === 0) return finish(contains ? files.filter((e) => e.fmt !== 0o100000) : files);
      return readStep(regular, contains, args, (keep, sums) =>
        finish(
          files.filter((e) => e.fmt !== 0o100000 || keep.has(e.path)),
          sums,
        ),
      );
    },
  };
}

function startsAt(re: RegExp, s: string): boolean {
  const sticky = new RegExp(re.source, `${re.flags.replace('g', '')}y`);
  sticky.lastIndex = 0;
  return sticky.test(s);
}

/** Second round trip: the candidates' contents (for contains) and checksums (get_checksum). */
function readStep(
  files: Entry[],
  contains: RegExp | undefined,
  args: FindArgs,
  done: (keep: Set<string>, sums: Map<string, string>) => TaskResult,
): Step {
  const lines = files.map(
    (e, i) =>
      `dr_out64 p.${i} ${quote(e.path)}; ${contains ? `dr_outfile c.${i} ${quote(e.path)} 2>/dev/null; ` : ''}${args.get_checksum ? `dr_out s.${i} "$(dr_sha1 ${quote(e.path)} 2>/dev/null)"` : ':'}`,
  );
  return {
    script: shScript({ check: false, body: lines.join('\n') }),
    parse(r) {
      const report = parseReport(r.stdout);
      const keep = new Set<string>();
      const sums = new Map<string, string>();
      files.forEach((e, i) => {
        const s = report.get(`s.${i}`);
        if (s) sums.set(e.path, s);
        if (!contains) {
          keep.add(e.path);
          return;
        }
        const body = report.bytes(`c.${i}`);
        if (!body) return;
        const text = new TextDecoder('utf-8', { fatal: true });
        let content: string;
        try {
          content = text.decode(body).replace(/\r\n?/g, '\n');
        } catch {
          return;
        }
        if (args.read_whole_file) {
          if (new RegExp(contains.source, contains.flags).exec(content)) keep.add(e.path);
          return;
        }
        const ls = content.match(/[^\n]*\n|[^\n]+$/g) ?? [];
        if (ls.some((l) => startsAt(contains, l))) keep.add(e.path);
      });
      return done(keep, sums);
    },
  };
}

export const findModule: Module<FindArgs> = {
  names: ['find', 'ansible.builtin.find', 'ansible.legacy.find'],
  check: 'full',
  args: {
    options: {
      paths: { type: 'list', elements: 'str', required: true, aliases: ['name', 'path'] },
      patterns: { type: 'list', elements: 'str', default: [], aliases: ['pattern'] },
      excludes: { type: 'list', elements: 'str', aliases: ['exclude'] },
      contains: { type: 'str' },
      read_whole_file: { type: 'bool', default: false },
      file_type: { type: 'str', default: 'file', choices: ['any', 'directory', 'file', 'link'] },
      age: { type: 'str' },
      age_stamp: { type: 'str', default: 'mtime', choices: ['atime', 'ctime', 'mtime'] },
      size: { type: 'str' },
      recurse: { type: 'bool', default: false },
      hidden: { type: 'bool', default: false },
      follow: { type: 'bool', default: false },
      get_checksum: { type: 'bool', default: false },
      use_regex: { type: 'bool', default: false },
      depth: { type: 'int' },
    },
  },
  plan: planFind,
};
