/**
 * apt_repository: one round trip reads every sources file; the planner decides like
 * Ansible's SourcesList (a repo counts as present when an enabled line with the same
 * whitespace-normalised text exists in any file; a commented-out copy is re-enabled in
 * place), then a second round trip writes the changed files atomically, removes emptied
 * ones, and refreshes the cache when asked.
 */
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, readAnswer } from '../system/remote-sh.js';
import type { FileDiff, Module, PlanContext, Step, TaskResult } from '../types.js';

export interface AptRepositoryArgs {
  repo: string;
  state: 'absent' | 'present';
  mode?: string | number;
  update_cache: boolean;
  update_cache_retries: number;
  filename?: string;
  codename?: string;
  validate_certs: boolean;
  install_python_apt: boolean;
}

const SOURCES_DIR = '/etc/apt/sources.list.d';
const VALID_TYPES = new Set(['deb', 'deb-src']);

/** Ansible's _suggest_filename: the first host/path word of the repo line, alnum runs joined by '_'. */
export function suggestFilename(repo: string, filename?: string): string {
  if (filename !== undefined) return `${SOURCES_DIR}/${filename}.list`;
  let line = repo.replace(/\[[^\]]+\]/g, '').replace(/\w+:\/\//g, '');
  const parts = line.split(/\s+/).filter((p) => p && !VALID_TYPES.has(p));
  let first = parts[0] ?? '';
  if (first.includes('@')) first = first.slice(first.indexOf('@') + 1);
  line = first
    .replace(/[^a-zA-Z0-9]/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join('_');
  return `${SOURCES_DIR}/${line}.list`;
}

interface SourceLine {
  enabled: boolean;
  source: string | undefined;
}

/** Parse one sources.list line: enabled or commented-out `deb`/`deb-src` entry, or neither. */
export function parseSourceLine(line: string): SourceLine {
  let l = line.trim();
  let enabled = true;
  if (l.startsWith('#')) {
    enabled = false;
    l = l.replace(/^#+/, '').trim();
  }
  const i = l.indexOf('#');
  if (i > 0) l = l.slice(0, i).trim();
  const words = l.split(/\s+/);
  if (!VALID_TYPES.has(words[0] ?? '') || words.length < 3) return { enabled, source: undefined };
  return { enabled, source: words.join(' ') };
}

export function editSources(
  files: Map<string, string>,
  repo: string,
  state: 'present' | 'absent',
  target: string,
): { changes: Map<string, string>; added: string[]; removed: string[] } {
  const want = repo.trim().split(/\s+/).join(' ');
  const changes = new Map<string, string>();
  const added: string[] = [];
  const removed: string[] = [];
  const split = (c: string) => c.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  if (state === 'present') {
    for (const content of files.values()) {
      if (
        split(content).some((l) => {
          const p = parseSourceLine(l);
          return p.enabled && p.source === want;
        })
      ) {
        return { changes, added, removed };
      }
    }
    for (const [f, content] of files) {
      const ls = split(content);
      const i = ls.findIndex((l) => {
        const p = parseSourceLine(l);
        return !p.enabled && p.source === want;
      });
      if (i >= 0) {
        ls[i] = `${want}\n`;
        changes.set(f, ls.join(''));
        added.push(want);
        return { changes, added, removed };
      }
    }
    const old = files.get(target) ?? '';
    changes.set(target, `${old}${old && !old.endsWith('\n') ? '\n' : ''}${want}\n`);
    added.push(want);
    return { changes, added, removed };
  }
  for (const [f, content] of files) {
    const ls = split(content);
    const kept = ls.filter((l) => parseSourceLine(l).source !== want);
    if (kept.length !== ls.length) {
      changes.set(f, kept.join(''));
      removed.push(want);
    }
  }
  return { changes, added, removed };
}

const READ = `for f in /etc/apt/sources.list ${SOURCES_DIR}/*.list; do
  [ -f "$f" ] || continue
  d_emit file "$f"; d_emit content "$(cat "$f"; printf x)"
done`;

const WRITE_ONE = `d_dir=$(dirname "$dest")
mkdir -p "$d_dir" || d_fail "Failed to create $d_dir"
if [ -z "$content" ]; then rm -f "$dest" || d_fail "Failed to remove $dest"
else
  d_tmp=$(mktemp "$d_dir/.drover.XXXXXX") || d_fail "Failed to create a temporary file in $d_dir"
  printf '%s' "$content" > "$d_tmp" && chmod "$mode" "$d_tmp" && mv -f "$d_tmp" "$dest" || { rm -f "$d_tmp"; d_fail "Failed to write $dest"; }
fi`;

const UPDATE = `if [ -n "$update_cache" ]; then
  tries=0
  until o=$(apt-get update 2>&1 </dev/null); do
    tries=$((tries + 1)); [ $tries -ge "$retries" ] && d_fail "Failed to update apt cache: $o"; sleep $tries
  done
fi`;

/** mode is raw: YAML 0644 arrives as the int 420, '0644' as a string. */
function modeString(m: unknown): string {
  if (typeof m === 'number') return m.toString(8);
  if (typeof m === 'string' && m !== '') return m;
  return '0644';
}

export function planAptRepository(a: AptRepositoryArgs, ctx: PlanContext): Step | TaskResult {
  if (a.repo.startsWith('ppa:')) {
    return {
      failed: true,
      msg: "apt_repository: PPA repositories need Ubuntu's launchpad lookup, which drover does not do; give the deb line",
    };
  }
  const target = suggestFilename(a.repo, a.filename);
  return {
    script: buildScript(ctx.check, {}, READ),
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'apt_repository');
      if (failure) return failure;
      const names = report.all('file');
      const contents = report.all('content');
      const files = new Map<string, string>();
      for (const [i, f] of names.entries()) files.set(f, (contents[i] ?? 'x').slice(0, -1));
      const { changes, added, removed } = editSources(files, a.repo, a.state, target);
      const changed = changes.size > 0;
      const res: TaskResult = {
        changed,
        repo: a.repo,
        state: a.state,
        sources_added: added.length > 0 ? [...changes.keys()] : [],
        sources_removed: removed.length > 0 ? [...changes.keys()] : [],
      };
      if (ctx.diff && changed) {
        res.diff = [...changes].map(
          ([f, after]): FileDiff => ({
            before: files.get(f) ?? '',
            after,
            before_header: files.has(f) ? f : '/dev/null',
            after_header: f,
          }),
        );
      }
      if (!changed || ctx.check) return res;
      const mode = modeString(a.mode);
      const parts = [...changes].map(([dest, content]) =>
        buildScript(false, { dest, content, mode }, WRITE_ONE),
      );
      parts.push(
        buildScript(
          false,
          { update_cache: a.update_cache ? '1' : '', retries: Math.max(1, a.update_cache_retries) },
          UPDATE,
        ),
      );
      return {
        // d_fail exits the whole script, so a failed write stops the rest.
        script: parts.join('\n'),
        parse(w: RunResult): TaskResult {
          return readAnswer(w, 'apt_repository').failure ?? res;
        },
      };
    },
  };
}

export const aptRepository: Module<AptRepositoryArgs> = {
  names: ['apt_repository', 'ansible.builtin.apt_repository'],
  check: 'full',
  diff: true,
  args: {
    options: {
      repo: { type: 'str', required: true },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
      mode: { type: 'raw' },
      update_cache: { type: 'bool', default: true, aliases: ['update-cache'] },
      update_cache_retries: { type: 'int', default: 5 },
      update_cache_retry_max_delay: { type: 'int', default: 12 },
      filename: { type: 'str' },
      codename: { type: 'str' },
      validate_certs: { type: 'bool', default: true },
      install_python_apt: { type: 'bool', default: true },
    },
  },
  plan: planAptRepository,
};
