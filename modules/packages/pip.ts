/**
 * pip: one round trip that picks the pip (virtualenv's, `executable`, or pip3/pip), creates
 * the virtualenv if asked and missing, compares `pip freeze` with the wanted packages, and
 * runs pip install/uninstall only when needed. With requirements, extra_args or
 * state=latest pip decides, and `changed` is whether `pip freeze` differs afterwards, as
 * Ansible does.
 */
import { quoteArgs } from '../../src/shell/quote.js';
import { shlexSplit } from '../../src/shell/shlex.js';
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, lines, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface PipArgs {
  name?: string[];
  version?: string;
  requirements?: string;
  virtualenv?: string;
  virtualenv_site_packages: boolean;
  virtualenv_command: string;
  virtualenv_python?: string;
  state: 'absent' | 'forcereinstall' | 'latest' | 'present';
  extra_args?: string;
  editable: boolean;
  chdir?: string;
  executable?: string;
  umask?: string;
}

const BODY = `[ -n "$chdir" ] && { cd "$chdir" || d_fail "Unable to change directory to $chdir"; }
[ -n "$umask" ] && umask "$umask"
if [ -n "$venv" ]; then
  if [ ! -x "$venv/bin/python" ] && [ ! -x "$venv/bin/pip" ]; then
    d_changed
    d_set venv_created 1
    if [ -z "$CHECK" ]; then
      eval "set -- $venv_cmd"
      case "$1" in *virtualenv*) [ -n "$venv_python" ] && set -- "$@" -p "$venv_python";; esac
      [ -n "$site" ] && set -- "$@" --system-site-packages
      o=$("$@" "$venv" 2>&1) || d_fail "Failed to create virtualenv $venv: $o"
      d_emit stdout_venv "$o"
    fi
  fi
  pip="$venv/bin/pip"
  [ -x "$pip" ] || pip="$venv/bin/pip3"
  [ -n "$CHECK" ] && [ ! -x "$pip" ] && { d_set would_create 1; exit 0; }
elif [ -n "$executable" ]; then pip=$executable
elif d_has pip3; then pip=pip3
elif d_has pip; then pip=pip
elif d_has python3 && python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"
else d_fail "Unable to find any of pip3, pip to use.  pip needs to be installed."; fi
d_set pip "$pip"
freeze() { $pip freeze --all 2>/dev/null || $pip freeze 2>/dev/null; }
norm() { tr 'A-Z_.' 'a-z--'; }
before=$(freeze)
d_emit before "$before"
have() { printf '%s\\n' "$before" | sed 's/ *@ .*$//' | norm | grep -Fxq -- "$(printf '%s' "$1" | norm)"; }
have_name() { printf '%s\\n' "$before" | sed 's/[=@ ].*$//' | norm | grep -Fxq -- "$(printf '%s' "$1" | norm)"; }
need=
if [ -z "$decide_by_pip" ]; then
  while IFS= read -r spec; do
    [ -n "$spec" ] || continue
    pkg=$(printf '%s' "$spec" | sed 's/[<>=!~;[ ].*$//')
    case "$state" in
      absent) have_name "$pkg" && need=1 ;;
      present)
        case "$spec" in
          *==*) have "$spec" || need=1 ;;
          *) have_name "$pkg" || need=1 ;;
        esac ;;
    esac
  done <<EOF_NAMES
$names
EOF_NAMES
else need=1; fi
[ -z "$need" ] && exit 0
eval "set -- $args"
d_emit cmd "$pip $*"
if [ -n "$CHECK" ]; then d_changed; exit 0; fi
out=$($pip "$@" 2>&1 </dev/null); rc=$?
d_emit stdout "$out"
if [ $rc -ne 0 ]; then d_set rc $rc; d_fail "$out"; fi
after=$(freeze)
[ "$before" != "$after" ] && d_changed
[ "$state" = forcereinstall ] && d_changed
exit 0`;

function pipArgs(a: PipArgs, names: string[]): string[] {
  const argv: string[] = [];
  if (a.state === 'absent') argv.push('uninstall', '-y');
  else {
    argv.push('install');
    if (a.state === 'latest') argv.push('-U');
    if (a.state === 'forcereinstall') argv.push('-U', '--force-reinstall');
  }
  if (a.extra_args) argv.push(...shlexSplit(a.extra_args));
  if (a.editable && a.state !== 'absent') argv.push('-e');
  argv.push(...names);
  if (a.requirements) argv.push('-r', a.requirements);
  return argv;
}

export function planPip(a: PipArgs, ctx: PlanContext): Step | TaskResult {
  let names = a.name ?? [];
  if (a.version !== undefined) {
    if (names.length !== 1) return { failed: true, msg: 'version is incompatible with multiple packages' };
    const n = names[0]!;
    names = [/[<>=!~]/.test(n) ? n : `${n}==${a.version}`];
  }
  if (a.state === 'absent') names = names.map((n) => n.replace(/[<>=!~;[ ].*$/, ''));
  const decideByPip = Boolean(
    a.requirements ||
      a.extra_args ||
      a.state === 'latest' ||
      a.state === 'forcereinstall' ||
      names.length === 0,
  );
  if (a.state === 'absent' && names.length === 0 && !a.requirements) {
    return { failed: true, msg: 'one of the following is required: name, requirements' };
  }
  const script = buildScript(
    ctx.check,
    {
      names: lines(names),
      state: a.state,
      venv: a.virtualenv ?? '',
      // shlex-split on the controller and re-quoted: the script evals only quoted words.
      venv_cmd: quoteArgs(shlexSplit(a.virtualenv_command)),
      venv_python: a.virtualenv_python ?? '',
      site: a.virtualenv_site_packages ? '1' : '',
      executable: a.executable ?? '',
      chdir: a.chdir ?? '',
      umask: a.umask ?? '',
      decide_by_pip: decideByPip ? '1' : '',
      args: quoteArgs(pipArgs(a, names)),
    },
    BODY,
    ctx.remoteTmp,
  );
  return {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'pip');
      const base: TaskResult = {
        cmd: report.get('cmd') ?? '',
        name: names,
        requirements: a.requirements ?? null,
        version: a.version ?? null,
        virtualenv: a.virtualenv ?? null,
        state: a.state,
      };
      if (failure) return { ...base, ...failure, stdout: report.get('stdout') ?? '', stderr: '' };
      const res: TaskResult = { ...base, changed: report.flag('changed') };
      const out = report.get('stdout');
      if (out !== undefined) {
        res.stdout = out;
        res.stderr = '';
      }
      return res;
    },
  };
}

export const pip: Module<PipArgs> = {
  names: ['pip', 'ansible.builtin.pip'],
  check: 'full',
  args: {
    options: {
      name: { type: 'list', elements: 'str' },
      version: { type: 'str' },
      requirements: { type: 'str' },
      virtualenv: { type: 'path' },
      virtualenv_site_packages: { type: 'bool', default: false },
      virtualenv_command: { type: 'path', default: 'virtualenv' },
      virtualenv_python: { type: 'str' },
      state: { type: 'str', default: 'present', choices: ['absent', 'forcereinstall', 'latest', 'present'] },
      extra_args: { type: 'str' },
      editable: { type: 'bool', default: false },
      chdir: { type: 'path' },
      executable: { type: 'path' },
      umask: { type: 'str' },
    },
    requiredOneOf: [['name', 'requirements']],
    mutuallyExclusive: [
      ['name', 'requirements'],
      ['executable', 'virtualenv'],
    ],
  },
  plan: planPip,
};
