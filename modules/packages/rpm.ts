/**
 * dnf and yum: one planner family. One round trip reads `rpm -q` for each package, decides
 * what to install, upgrade or remove, and runs one dnf/yum transaction for it; check mode
 * decides the same way and reports without running the transaction.
 */
import { quoteArgs } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, lines, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface RpmArgs {
  name: string[];
  state?: 'absent' | 'present' | 'installed' | 'latest' | 'removed';
  update_cache: boolean;
  enablerepo: string[];
  disablerepo: string[];
  conf_file?: string;
  disable_gpg_check: boolean;
  exclude: string[];
  installroot: string;
  autoremove: boolean;
  security: boolean;
  bugfix: boolean;
  update_only: boolean;
  install_weak_deps: boolean;
  releasever?: string;
  download_only: boolean;
  allowerasing?: boolean;
  nobest?: boolean;
  lock_timeout: number;
  use_backend?: string;
}

const BODY = `d_has "$tool" || d_fail "Failed to find required executable \\"$tool\\" in paths: $PATH"
install=; upgrade=; remove=
if [ -n "$update_cache" ] && [ -z "$CHECK" ]; then
  o=$($tool -q makecache $common 2>&1 </dev/null) || d_fail "Failed to update the $tool cache: $o"
fi
while IFS= read -r spec; do
  [ -n "$spec" ] || continue
  case "$spec" in
    @*) [ "$state" != absent ] && install="$install$spec
"; continue ;;
    /*|*.rpm) pkg=$spec; [ -f "$spec" ] && pkg=$(rpm -qp --qf '%{NAME}' "$spec" 2>/dev/null) ;;
    *) pkg=$(printf '%s' "$spec" | sed 's/[<>=].*$//; s/ *$//') ;;
  esac
  if rpm -q --whatprovides "$pkg" >/dev/null 2>&1 || rpm -q "$pkg" >/dev/null 2>&1; then inst=1; else inst=; fi
  case "$state" in
    absent) [ -n "$inst" ] && remove="$remove$pkg
" ;;
    latest)
      if [ -z "$inst" ]; then install="$install$spec
"
      else
        eval "$tool -q check-update $common \\"\\$pkg\\"" >/dev/null 2>&1; [ $? -eq 100 ] && upgrade="$upgrade$spec
"
      fi ;;
    *) [ -z "$inst" ] && [ -z "$update_only" ] && install="$install$spec
" ;;
  esac
done <<EOF_NAMES
$names
EOF_NAMES
txn() {
  what=$1; shift
  d_changed
  [ -n "$CHECK" ] && return 0
  eval "set -- $common \\"\\$@\\""
  o=$($tool -y "$@" 2>&1 </dev/null); r=$?
  d_emit stdout "$o"
  if [ $r -ne 0 ]; then d_set rc $r; d_fail "$what: $o"; fi
  d_emit result "$what"
}
lst() { printf '%s' "$1" | sed '/^$/d'; }
if [ -n "$install" ]; then set -- install; while IFS= read -r p; do [ -n "$p" ] && set -- "$@" "$p"; done <<EOF_I
$(lst "$install")
EOF_I
  txn "Failed to install some of the specified packages" "$@"; lst "$install" | while IFS= read -r p; do d_emit installed "$p"; done; fi
if [ -n "$upgrade" ]; then set -- upgrade; while IFS= read -r p; do [ -n "$p" ] && set -- "$@" "$p"; done <<EOF_U
$(lst "$upgrade")
EOF_U
  txn "Failed to upgrade some of the specified packages" "$@"; lst "$upgrade" | while IFS= read -r p; do d_emit upgraded "$p"; done; fi
if [ -n "$remove" ]; then set -- remove; while IFS= read -r p; do [ -n "$p" ] && set -- "$@" "$p"; done <<EOF_R
$(lst "$remove")
EOF_R
  txn "Failed to remove some of the specified packages" "$@"; lst "$remove" | while IFS= read -r p; do d_emit removed "$p"; done; fi
[ -n "$autoremove" ] && [ "$state" = absent ] && txn "Failed to autoremove" autoremove
exit 0`;

export function rpmOptions(a: RpmArgs, tool: 'dnf' | 'yum'): string[] {
  const o: string[] = [];
  if (a.conf_file) o.push('-c', a.conf_file);
  if (a.disable_gpg_check) o.push('--nogpgcheck');
  for (const r of a.disablerepo) o.push(`--disablerepo=${r}`);
  for (const r of a.enablerepo) o.push(`--enablerepo=${r}`);
  for (const e of a.exclude) o.push(`--exclude=${e}`);
  if (a.installroot !== '/') o.push(`--installroot=${a.installroot}`);
  if (a.releasever) o.push(`--releasever=${a.releasever}`);
  if (a.security) o.push('--security');
  if (a.bugfix) o.push('--bugfix');
  if (a.download_only) o.push('--downloadonly');
  if (tool === 'dnf') {
    if (!a.install_weak_deps) o.push('--setopt=install_weak_deps=False');
    if (a.allowerasing) o.push('--allowerasing');
    if (a.nobest) o.push('--nobest');
  }
  return o;
}

function planRpm(tool: 'dnf' | 'yum') {
  return (a: RpmArgs, ctx: PlanContext): Step | TaskResult => {
    const state =
      a.state === 'installed' ? 'present' : a.state === 'removed' ? 'absent' : (a.state ?? 'present');
    if (a.name.length === 0 && !a.update_cache) {
      return { failed: true, msg: 'name or list parameter is required' };
    }
    const script = buildScript(
      ctx.check,
      {
        tool,
        names: lines(a.name),
        state,
        common: quoteArgs(rpmOptions(a, tool)),
        update_cache: a.update_cache ? '1' : '',
        update_only: a.update_only ? '1' : '',
        autoremove: a.autoremove ? '1' : '',
      },
      BODY,
      ctx.remoteTmp,
    );
    return {
      script,
      parse(r: RunResult): TaskResult {
        const { report, failure } = readAnswer(r, tool);
        if (failure) return { ...failure, results: [], rc: failure.rc ?? 1 };
        const changed = report.flag('changed');
        const results: string[] = [];
        for (const p of report.all('installed')) results.push(`Installed: ${p}`);
        for (const p of report.all('upgraded')) results.push(`Upgraded: ${p}`);
        for (const p of report.all('removed')) results.push(`Removed: ${p}`);
        const res: TaskResult = { changed, rc: 0, results, msg: changed ? '' : 'Nothing to do' };
        if (ctx.check && changed)
          res.msg = 'Check mode: No changes made, but would have if not in check mode';
        return res;
      },
    };
  };
}

function rpmModule(tool: 'dnf' | 'yum', names: string[]): Module<RpmArgs> {
  return {
    names,
    check: 'full',
    args: {
      options: {
        name: { type: 'list', elements: 'str', default: [], aliases: ['pkg'] },
        list: { type: 'str' },
        state: { type: 'str', choices: ['absent', 'present', 'installed', 'latest', 'removed'] },
        enablerepo: { type: 'list', elements: 'str', default: [] },
        disablerepo: { type: 'list', elements: 'str', default: [] },
        conf_file: { type: 'str' },
        disable_gpg_check: { type: 'bool', default: false },
        update_cache: { type: 'bool', default: false, aliases: ['expire-cache'] },
        exclude: { type: 'list', elements: 'str', default: [] },
        installroot: { type: 'str', default: '/' },
        autoremove: { type: 'bool', default: false },
        security: { type: 'bool', default: false },
        bugfix: { type: 'bool', default: false },
        update_only: { type: 'bool', default: false },
        install_weak_deps: { type: 'bool', default: true },
        releasever: { type: 'str' },
        download_only: { type: 'bool', default: false },
        allowerasing: { type: 'bool', default: false },
        nobest: { type: 'bool', default: false },
        skip_broken: { type: 'bool', default: false },
        validate_certs: { type: 'bool', default: true },
        lock_timeout: { type: 'int', default: 30 },
        use_backend: { type: 'str', default: 'auto' },
        disable_excludes: { type: 'str' },
        disable_plugin: { type: 'list', elements: 'str', default: [] },
        enable_plugin: { type: 'list', elements: 'str', default: [] },
        cacheonly: { type: 'bool', default: false },
        sslverify: { type: 'bool', default: true },
        download_dir: { type: 'str' },
        install_repoquery: { type: 'bool', default: true },
      },
      mutuallyExclusive: [['name', 'list']],
    },
    plan: planRpm(tool),
  };
}

export const dnf = rpmModule('dnf', ['dnf', 'ansible.builtin.dnf', 'dnf5', 'ansible.builtin.dnf5']);
export const yum = rpmModule('yum', ['yum', 'ansible.builtin.yum']);
