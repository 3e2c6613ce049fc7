/**
 * git: clone or update a checkout with the target's git in one round trip. The script
 * resolves `version` (branch, tag or sha) against the remote with ls-remote, compares it
 * with the checkout's HEAD, and fetches/checks out only when they differ; before/after
 * shas come back as Ansible reports them. Local modifications fail unless force=yes.
 */
import { quoteArgs } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface GitArgs {
  repo: string;
  dest: string;
  version: string;
  remote: string;
  refspec?: string;
  force: boolean;
  depth?: number;
  clone: boolean;
  update: boolean;
  accept_hostkey: boolean;
  accept_newhostkey: boolean;
  key_file?: string;
  ssh_opts?: string;
  executable?: string;
  bare: boolean;
  recursive: boolean;
  single_branch: boolean;
  umask?: string;
  track_submodules: boolean;
  verify_commit: boolean;
}

const BODY = `export GIT_TERMINAL_PROMPT=0
[ -n "$ssh_cmd" ] && export GIT_SSH_COMMAND="$ssh_cmd"
[ -n "$umask" ] && umask "$umask"
d_has "$git" || d_fail "Failed to find required executable \\"$git\\" in paths: $PATH"
g() { "$git" "$@"; }
gd() { if [ -n "$bare" ]; then "$git" --git-dir="$dest" "$@"; else "$git" -C "$dest" "$@"; fi; }
# resolve VERSION on the remote to a sha; kind=branch|tag|head|sha
resolve() {
  kind=; target=
  refs=$(g ls-remote "$repo" 2>&1) || d_fail "Failed to read remote $repo: $refs"
  if [ "$version" = HEAD ]; then
    kind=head; target=$(printf '%s\\n' "$refs" | awk '$2=="HEAD"{print $1; exit}'); return
  fi
  target=$(printf '%s\\n' "$refs" | V="refs/heads/$version" awk '$2==ENVIRON["V"]{print $1; exit}')
  [ -n "$target" ] && { kind=branch; return; }
  target=$(printf '%s\\n' "$refs" | V="refs/tags/$version^{}" awk '$2==ENVIRON["V"]{print $1; exit}')
  [ -n "$target" ] || target=$(printf '%s\\n' "$refs" | V="refs/tags/$version" awk '$2==ENVIRON["V"]{print $1; exit}')
  [ -n "$target" ] && { kind=tag; return; }
  case "$version" in *[!0-9a-fA-F]*) ;; ???????*) kind=sha; target=$version; return;; esac
  d_fail "Failed to find version $version in $repo (not a branch, tag or commit sha)"
}
if [ -n "$bare" ]; then exists_test() { [ -f "$dest/HEAD" ]; }; else exists_test() { [ -e "$dest/.git" ]; }; fi
if ! exists_test; then
  d_set before_none 1
  if [ -z "$clone" ]; then resolve; d_set after "$target"; exit 0; fi
  resolve
  d_changed
  if [ -n "$CHECK" ]; then d_set after "$target"; exit 0; fi
  set -- clone
  [ -n "$bare" ] && set -- "$@" --bare
  [ "$remote" != origin ] && set -- "$@" --origin "$remote"
  [ -n "$recursive" ] && [ -z "$bare" ] && set -- "$@" --recursive
  if [ -n "$depth" ]; then
    set -- "$@" --depth "$depth"
    [ "$kind" = branch ] || [ "$kind" = tag ] && set -- "$@" --branch "$version"
  fi
  [ -n "$single_branch" ] && set -- "$@" --single-branch
  o=$(g "$@" -- "$repo" "$dest" 2>&1 </dev/null) || d_fail "Failed to clone $repo into $dest: $o"
  if [ -z "$bare" ] && [ "$version" != HEAD ]; then
    if [ "$kind" = branch ]; then o=$(gd checkout --force -B "$version" "$remote/$version" 2>&1) || o=$(gd checkout --force "$version" 2>&1)
    else o=$(gd checkout --force "$target" 2>&1) || { gd fetch "$remote" "$target" >/dev/null 2>&1; o=$(gd checkout --force "$target" 2>&1); }; fi \\
      || d_fail "Failed to checkout $version: $o"
  fi
  d_set after "$(gd rev-parse HEAD 2>/dev/null)"
  exit 0
fi
before=$(gd rev-parse HEAD 2>/dev/null)
d_set before "$before"
if [ -z "$bare" ]; then
  mods=$(gd status --porcelain --untracked-files=no 2>/dev/null)
  if [ -n "$mods" ]; then
    [ -n "$force" ] || d_fail "Local modifications exist in the destination: $dest (force=no)."
    d_changed; d_set local_modified 1
    d_run "Failed to discard local modifications" gd reset --hard HEAD
  fi
fi
if [ -z "$update" ]; then d_set after "$before"; exit 0; fi
cur_url=$(gd remote get-url "$remote" 2>/dev/null)
if [ "$cur_url" != "$repo" ]; then
  d_set remote_url_changed 1; d_changed
  if [ -z "$CHECK" ]; then gd remote set-url "$remote" "$repo" >&2 2>/dev/null || gd remote add "$remote" "$repo" >&2 || d_fail "Failed to set remote url of $remote to $repo"; fi
fi
resolve
case "$before" in "$target"*) d_set after "$before"; exit 0;; esac
d_changed
if [ -n "$CHECK" ]; then d_set after "$target"; exit 0; fi
set -- fetch
[ -n "$depth" ] && set -- "$@" --depth "$depth"
set -- "$@" "$remote"
if [ -n "$refspec" ]; then set -- "$@" "$refspec"
elif [ -n "$bare" ]; then set -- "$@" '+refs/heads/*:refs/heads/*'
else set -- "$@" "+refs/heads/*:refs/remotes/$remote/*"; fi
o=$(gd "$@" 2>&1 </dev/null) || d_fail "Failed to download remote objects and refs: $o"
gd fetch --tags $depth_arg "$remote" >/dev/null 2>&1
if [ -z "$bare" ]; then
  case "$kind" in
    branch) o=$(gd checkout --force -B "$version" "$remote/$version" 2>&1) || d_fail "Failed to checkout branch $version: $o" ;;
    head) o=$(gd reset --hard "$target" 2>&1) || d_fail "Failed to reset to $target: $o" ;;
    *) o=$(gd checkout --force "$target" 2>&1) || { gd fetch "$remote" "$target" >/dev/null 2>&1; o=$(gd checkout --force "$target" 2>&1); } || d_fail "Failed to checkout $version: $o" ;;
  esac
  [ -n "$recursive" ] && gd submodule update --init --recursive >&2 2>/dev/null
fi
d_set after "$(gd rev-parse HEAD 2>/dev/null)"
exit 0`;

function sshCommand(a: GitArgs): string {
  const parts = ['ssh'];
  if (a.key_file) parts.push('-i', a.key_file, '-o', 'IdentitiesOnly=yes');
  if (a.accept_hostkey) parts.push('-o', 'StrictHostKeyChecking=no');
  else if (a.accept_newhostkey) parts.push('-o', 'StrictHostKeyChecking=accept-new');
  const cmd = quoteArgs(parts);
  if (parts.length === 1 && !a.ssh_opts) return '';
  // ssh_opts is a string of ssh options by definition (Ansible appends it verbatim).
  return a.ssh_opts ? `${cmd} ${a.ssh_opts}` : cmd;
}

export function planGit(a: GitArgs, ctx: PlanContext): Step | TaskResult {
  const script = buildScript(
    ctx.check,
    {
      repo: a.repo,
      dest: a.dest,
      version: a.version,
      remote: a.remote,
      refspec: a.refspec ?? '',
      force: a.force ? '1' : '',
      depth: a.depth ?? '',
      depth_arg: '',
      clone: a.clone ? '1' : '',
      update: a.update ? '1' : '',
      bare: a.bare ? '1' : '',
      recursive: a.recursive ? '1' : '',
      single_branch: a.single_branch ? '1' : '',
      umask: a.umask ?? '',
      git: a.executable ?? 'git',
      ssh_cmd: sshCommand(a),
    },
    BODY,
    ctx.remoteTmp,
  );
  return {
    script,
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'git');
      if (failure) return failure;
      const before = report.flag('before_none') ? null : (report.get('before') ?? null);
      const after = report.get('after') ?? null;
      const res: TaskResult = {
        changed: report.flag('changed'),
        before,
        after,
      };
      if (report.flag('remote_url_changed')) res.remote_url_changed = true;
      if (!ctx.diff || !res.changed || after === null) return res;
      // Ansible's get_diff: a new checkout names the commit; an update shows `git diff`.
      if (before === null) {
        res.diff = { prepared: `>> Newly checked out ${after}` };
        return res;
      }
      if (before === after || a.bare) return res;
      return gitDiffStep(a, before, after, res, ctx);
    },
  };
}

/**
 * A second round trip, only for `--diff` of an updated checkout: `git diff BEFORE AFTER`.
 * In check mode the new commit is not in the checkout yet: it is fetched into a scratch
 * object directory (the checkout's objects as alternates) that is removed afterwards, so
 * the checkout stays untouched (Ansible's check mode fetches into .git itself).
 */
const DIFF_BODY = `export GIT_TERMINAL_PROMPT=0
[ -n "$ssh_cmd" ] && export GIT_SSH_COMMAND="$ssh_cmd"
if [ -n "$CHECK" ]; then
  objs=$(mktemp -d "$DR_TMP/.drover-git-objects.XXXXXX") || { d_emit rc 1; exit 0; }
  trap 'rm -rf "$objs"' EXIT
  export GIT_OBJECT_DIRECTORY="$objs" GIT_ALTERNATE_OBJECT_DIRECTORIES="$dest/.git/objects"
  "$git" -C "$dest" -c gc.auto=0 -c maintenance.auto=false fetch -q --no-tags --no-write-fetch-head "$repo" "$after" >/dev/null 2>&1
fi
out=$("$git" -C "$dest" diff "$before" "$after" 2>&1); rc=$?
d_emit rc "$rc"; d_emit out "$out"
exit 0`;

function gitDiffStep(a: GitArgs, before: string, after: string, res: TaskResult, ctx: PlanContext): Step {
  return {
    script: buildScript(
      ctx.check,
      { git: a.executable ?? 'git', dest: a.dest, repo: a.repo, before, after, ssh_cmd: sshCommand(a) },
      DIFF_BODY,
      ctx.remoteTmp,
    ),
    parse(r: RunResult): TaskResult {
      const { report } = readAnswer(r, 'git');
      const out = report.get('out') ?? '';
      const ok = report.get('rc') === '0';
      const prepared = ok
        ? out
          ? `${out}\n`
          : `>> No visual differences between ${before} and ${after}`
        : `>> Failed to get proper diff between ${before} and ${after}${out ? `:\n>> ${out}` : ''}`;
      return { ...res, diff: { prepared } };
    },
  };
}

export const git: Module<GitArgs> = {
  names: ['git', 'ansible.builtin.git'],
  check: 'full',
  diff: true,
  args: {
    options: {
      repo: { type: 'str', required: true, aliases: ['name'] },
      dest: { type: 'path', required: true },
      version: { type: 'str', default: 'HEAD' },
      remote: { type: 'str', default: 'origin' },
      refspec: { type: 'str' },
      reference: { type: 'str' },
      force: { type: 'bool', default: false },
      depth: { type: 'int' },
      clone: { type: 'bool', default: true },
      update: { type: 'bool', default: true },
      verify_commit: { type: 'bool', default: false },
      gpg_whitelist: { type: 'list', elements: 'str', default: [] },
      accept_hostkey: { type: 'bool', default: false },
      accept_newhostkey: { type: 'bool', default: false },
      key_file: { type: 'path' },
      ssh_opts: { type: 'str' },
      executable: { type: 'path' },
      bare: { type: 'bool', default: false },
      recursive: { type: 'bool', default: true },
      single_branch: { type: 'bool', default: false },
      track_submodules: { type: 'bool', default: false },
      umask: { type: 'raw' },
      archive: { type: 'path' },
      archive_prefix: { type: 'str' },
      separate_git_dir: { type: 'path' },
    },
    mutuallyExclusive: [['accept_hostkey', 'accept_newhostkey']],
  },
  plan: planGit,
};
