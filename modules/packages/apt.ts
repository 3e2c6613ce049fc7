/**
 * apt: one round trip that optionally refreshes the cache (honouring cache_valid_time),
 * reads each package's dpkg status and candidate, decides what to install, upgrade or
 * remove, and runs one apt-get for it. Check mode runs the same script with `apt-get -s`,
 * so a package that does not exist fails in check mode too.
 */
import { quoteArgs } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, lines, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface AptArgs {
  name?: string[];
  state: 'absent' | 'build-dep' | 'latest' | 'present' | 'fixed';
  update_cache?: boolean;
  cache_valid_time: number;
  purge: boolean;
  default_release?: string;
  install_recommends?: boolean;
  force: boolean;
  upgrade: string;
  dpkg_options: string;
  autoremove: boolean;
  autoclean: boolean;
  only_upgrade: boolean;
  deb?: string;
  allow_unauthenticated: boolean;
  allow_downgrade: boolean;
  allow_change_held_packages: boolean;
  clean: boolean;
  force_apt_get: boolean;
  lock_timeout: number;
  update_cache_retries: number;
  policy_rc_d?: number;
}

const BODY = `export DEBIAN_FRONTEND=noninteractive
d_has apt-get || d_fail "Failed to find required executable \\"apt-get\\" in paths: $PATH"
SIM=; NOCACHE=
# In check mode apt must not rebuild its binary caches either (the host stays untouched).
[ -n "$CHECK" ] && { SIM=-s; NOCACHE="-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Dir::Log::Planner=/dev/null"; }
# $common: the options every apt-get call shares, quoted by the planner
aptout=
apt_run() {
  # apt_run WHAT ARGS...: run apt-get with the common options, collect output, fail with it.
  what=$1; shift
  o=$(apt-get -y $SIM $NOCACHE "$@" 2>&1 </dev/null); r=$?
  aptout="$aptout$o
"
  if [ $r -ne 0 ]; then d_emit stdout "$aptout"; d_set rc $r; d_fail "$what: $o"; fi
}
if [ -n "$update_cache" ]; then
  now=$(date +%s)
  stamp=$(stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0)
  if [ "$cache_valid_time" -gt 0 ] && [ $((now - stamp)) -lt "$cache_valid_time" ]; then
    d_set cache_update_time "$stamp"
  else
    if [ -z "$CHECK" ]; then
      tries=0
      until o=$(apt-get update 2>&1 </dev/null); do
        tries=$((tries + 1))
        [ $tries -ge "$retries" ] && d_fail "Failed to update apt cache: $o"
        sleep $tries
      done
      mkdir -p /var/lib/apt/periodic 2>/dev/null && touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null
      # Like Ansible: the time reported is the cache's own mtime after the update.
      now=$(stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || echo "$now")
    fi
    d_set cache_updated 1
    d_set cache_update_time "$now"
  fi
fi
# Packages: decide per package; lists are newline-separated.
install=; remove=
status_of() { dpkg-query -W -f='\${Status}|\${Version}' "$1" 2>/dev/null; }
candidate_of() { apt-cache $NOCACHE policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1; }
if [ -n "$names" ]; then
  while IFS= read -r spec; do
    [ -n "$spec" ] || continue
    case "$spec" in *=*) pkg=\${spec%%=*}; ver=\${spec#*=};; *) pkg=$spec; ver=;; esac
    st=$(status_of "$pkg"); cur=\${st#*|}
    case "$st" in "install ok installed|"*|"hold ok installed|"*) inst=1;; *) inst=;; esac
    case "$state" in
      absent)
        if [ -n "$inst" ]; then remove="$remove$pkg
"; elif [ -n "$purge" ] && case "$st" in *" config-files|"*) true;; *) false;; esac; then remove="$remove$pkg
"; fi ;;
      present|fixed|latest)
        cand=$(candidate_of "$pkg")
        case "$pkg" in *'*'*|*'?'*) cand=glob;; esac
        if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
          [ -n "$inst" ] || d_fail "No package matching '$pkg' is available"
        fi
        if [ -z "$inst" ]; then [ -z "$only_upgrade" ] && install="$install$spec
"
        elif [ -n "$ver" ]; then case "$cur" in $ver) ;; *) install="$install$spec
";; esac
        elif [ "$state" = latest ] && [ -n "$cand" ] && [ "$cand" != "(none)" ] && [ "$cand" != glob ] && [ "$cand" != "$cur" ]; then install="$install$spec
"; fi ;;
    esac
  done <<EOF_NAMES
$names
EOF_NAMES
fi
if [ -n "$deb" ]; then
  case "$deb" in
    http://*|https://*|ftp://*)
      debfile=$DR_TMP/drover-deb.$$.deb
      if d_has curl; then curl -fsSL -o "$debfile" "$deb" >&2 || d_fail "Failure downloading $deb"
      elif d_has wget; then wget -q -O "$debfile" "$deb" >&2 || d_fail "Failure downloading $deb"
      else d_fail "Failure downloading $deb: neither curl nor wget is installed"; fi ;;
    *) debfile=$deb ;;
  esac
  [ -f "$debfile" ] || d_fail "Unable to install package: $deb does not exist"
  dpkg=$(dpkg-deb -f "$debfile" Package 2>/dev/null) || d_fail "Unable to install package: $debfile is not a Debian package"
  dver=$(dpkg-deb -f "$debfile" Version 2>/dev/null)
  st=$(status_of "$dpkg")
  if [ "$st" != "install ok installed|$dver" ] || [ -n "$force" ]; then
    case "$debfile" in /*) dpath=$debfile;; *) dpath=./$debfile;; esac
    eval "set -- $common"
    d_changed
    # As Ansible: missing dependencies through apt, then dpkg -i (--simulate in check mode),
    # so the output (and the --diff) is dpkg's.
    sim=$(apt-get -s $NOCACHE "$@" install "$dpath" 2>&1 </dev/null) || d_fail "Unable to install package: $sim"
    deps=$(printf '%s\n' "$sim" | P="$dpkg" awk '$1=="Inst" && $2!=ENVIRON["P"] {print $2}')
    if [ -n "$deps" ]; then
      set -f; apt_run "Unable to install the dependencies of $dpkg" "$@" install $deps; set +f
    fi
    eval "set -- $dpkg_opts"
    # dpkg logs even a simulation: not in check mode, which writes nothing
    [ -n "$CHECK" ] && set -- "$@" --simulate --log=/dev/null
    [ -n "$force" ] && set -- "$@" --force-all
    o=$(dpkg "$@" -i "$debfile" 2>&1 </dev/null); r=$?
    aptout="$aptout$o
"
    if [ $r -ne 0 ]; then d_emit stdout "$aptout"; d_set rc $r; d_fail "dpkg $* -i $debfile failed: $o"; fi
  fi
  [ "$debfile" != "$deb" ] && rm -f "$debfile"
fi
if [ -n "$install" ]; then
  d_changed
  eval "set -- $common"
  set -- "$@" install
  [ -n "$only_upgrade" ] && set -- "$@" --only-upgrade
  while IFS= read -r p; do [ -n "$p" ] && set -- "$@" "$p"; done <<EOF_I
$install
EOF_I
  apt_run "Unable to install packages" "$@"
fi
if [ -n "$remove" ]; then
  d_changed
  eval "set -- $common"
  set -- "$@" remove
  [ -n "$purge" ] && set -- "$@" --purge
  [ -n "$autoremove" ] && set -- "$@" --auto-remove
  while IFS= read -r p; do [ -n "$p" ] && set -- "$@" "$p"; done <<EOF_R
$remove
EOF_R
  apt_run "Unable to remove packages" "$@"
fi
if [ -n "$upgrade" ]; then
  eval "set -- $common"
  if [ "$upgrade" = dist ] || [ "$upgrade" = full ]; then apt_run "Unable to upgrade" "$@" dist-upgrade; else apt_run "Unable to upgrade" "$@" upgrade --with-new-pkgs; fi
  printf '%s' "$aptout" | grep -Eq '^0 upgraded, 0 newly installed, 0 to remove' || d_changed
fi
if [ -n "$autoremove" ] && [ "$state" != absent ]; then
  apt_run "Unable to autoremove" autoremove
  printf '%s' "$aptout" | grep -Eq '^(Remv|Removing) ' && d_changed
fi
[ -n "$autoclean" ] && apt_run "Unable to autoclean" autoclean
[ -n "$clean" ] && [ -z "$CHECK" ] && apt-get clean >&2
d_emit stdout "$aptout"
exit 0`;

/** The options every apt-get call of the task shares, as Ansible builds them. */
export function aptOptions(a: AptArgs): string[] {
  const o: string[] = [];
  for (const opt of a.dpkg_options.split(','))
    if (opt.trim()) o.push('-o', `Dpkg::Options::=--${opt.trim()}`);
  if (a.default_release) o.push('-t', a.default_release);
  if (a.install_recommends === true) o.push('-o', 'APT::Install-Recommends=yes');
  if (a.install_recommends === false) o.push('--no-install-recommends');
  if (a.allow_unauthenticated) o.push('--allow-unauthenticated');
  if (a.allow_downgrade) o.push('--allow-downgrades');
  if (a.allow_change_held_packages) o.push('--allow-change-held-packages');
  if (a.force) o.push('--force-yes');
  // apt >= 1.9 waits for the dpkg lock itself (Ansible polls for it in Python).
  if (a.lock_timeout > 0) o.push('-o', `DPkg::Lock::Timeout=${a.lock_timeout}`);
  return o;
}

export function planApt(a: AptArgs, ctx: PlanContext): Step | TaskResult {
  if (a.state === 'build-dep') {
    return {
      failed: true,
      msg: "apt: state=build-dep is not supported by drover; use 'apt-get build-dep' in a command task",
    };
  }
  let upgrade = a.upgrade === 'no' ? '' : a.upgrade === 'yes' ? 'safe' : a.upgrade;
  // name: '*' with state=latest upgrades every installed package, as in Ansible.
  const all = (a.name ?? []).includes('*');
  const names = (a.name ?? []).map((n) => n.trim()).filter((n) => n !== '*');
  if (a.deb && a.state !== 'present') return { failed: true, msg: 'deb only supports state=present' };
  if (all && a.state === 'latest') {
    if (names.length > 0) {
      return {
        failed: true,
        msg: 'unable to install additional packages when upgrading all installed packages',
      };
    }
    upgrade = upgrade || 'safe';
  }
  if (
    names.length === 0 &&
    !a.update_cache &&
    !upgrade &&
    !a.deb &&
    !a.autoremove &&
    !a.autoclean &&
    !a.clean
  ) {
    return { changed: false, msg: 'Nothing to do: no package, deb, upgrade or update_cache given' };
  }
  const script = buildScript(
    ctx.check,
    {
      names: lines(names),
      state: a.state,
      update_cache: a.update_cache ? '1' : '',
      cache_valid_time: a.cache_valid_time,
      retries: Math.max(1, a.update_cache_retries),
      purge: a.purge ? '1' : '',
      common: quoteArgs(aptOptions(a)),
      force: a.force ? '1' : '',
      dpkg_opts: quoteArgs(
        a.dpkg_options
          .split(',')
          .filter((o) => o.trim() !== '')
          .map((o) => `--${o.trim()}`),
      ),
      upgrade,
      autoremove: a.autoremove ? '1' : '',
      autoclean: a.autoclean ? '1' : '',
      clean: a.clean ? '1' : '',
      only_upgrade: a.only_upgrade ? '1' : '',
      deb: a.deb ?? '',
    },
    BODY,
    ctx.remoteTmp,
  );
  return {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'apt');
      const cacheUpdated = report.flag('cache_updated');
      const time = report.int('cache_update_time') ?? 0;
      if (failure) {
        const out = report.get('stdout');
        return {
          ...failure,
          cache_updated: cacheUpdated,
          cache_update_time: time,
          ...(out ? { stdout: out } : {}),
        };
      }
      const stdout = report.get('stdout') ?? '';
      const pkgChanged = report.flag('changed');
      const onlyCache = names.length === 0 && !upgrade && !a.deb;
      const res: TaskResult = {
        changed: onlyCache ? cacheUpdated || pkgChanged : pkgChanged,
        cache_updated: cacheUpdated,
        cache_update_time: time,
      };
      if (!onlyCache || stdout.trim() !== '') {
        res.stdout = stdout;
        res.stdout_lines = stdout.split('\n').filter((l) => l !== '');
        res.stderr = '';
        res.stderr_lines = [];
      }
      if (ctx.diff && pkgChanged) res.diff = aptParseDiff(stdout);
      return res;
    },
  };
}

/**
 * Ansible's parse_diff: apt-get's output from after "Reading state information..." through
 * the "N upgraded, ..." line (everything when the markers are missing).
 */
export function aptParseDiff(output: string): { prepared: string } {
  const lines = output.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  let start = lines.indexOf('Resolving dependencies...');
  if (start < 0) start = lines.indexOf('Reading state information...');
  let end = lines.findIndex((l) => /^[0-9]+ (packages )?upgraded/.test(l));
  if (end < 0) end = lines.length;
  return { prepared: lines.slice(start + 1, end + 1).join('\n') };
}

export const apt: Module<AptArgs> = {
  names: ['apt', 'ansible.builtin.apt'],
  check: 'full',
  diff: true,
  args: {
    options: {
      name: { type: 'list', elements: 'str', aliases: ['package', 'pkg'] },
      state: {
        type: 'str',
        default: 'present',
        choices: ['absent', 'build-dep', 'latest', 'present', 'fixed'],
      },
      update_cache: { type: 'bool', aliases: ['update-cache'] },
      update_cache_retries: { type: 'int', default: 5 },
      update_cache_retry_max_delay: { type: 'int', default: 12 },
      cache_valid_time: { type: 'int', default: 0 },
      purge: { type: 'bool', default: false },
      default_release: { type: 'str', aliases: ['default-release'] },
      install_recommends: { type: 'bool', aliases: ['install-recommends'] },
      force: { type: 'bool', default: false },
      upgrade: { type: 'str', default: 'no', choices: ['dist', 'full', 'no', 'safe', 'yes'] },
      dpkg_options: { type: 'str', default: 'force-confdef,force-confold' },
      autoremove: { type: 'bool', default: false },
      autoclean: { type: 'bool', default: false },
      fail_on_autoremove: { type: 'bool', default: false },
      policy_rc_d: { type: 'int' },
      only_upgrade: { type: 'bool', default: false },
      deb: { type: 'path' },
      allow_unauthenticated: { type: 'bool', default: false, aliases: ['allow-unauthenticated'] },
      allow_downgrade: {
        type: 'bool',
        default: false,
        aliases: ['allow-downgrade', 'allow_downgrades', 'allow-downgrades'],
      },
      allow_change_held_packages: { type: 'bool', default: false },
      lock_timeout: { type: 'int', default: 60 },
      clean: { type: 'bool', default: false },
      force_apt_get: { type: 'bool', default: false },
    },
    requiredOneOf: [['name', 'deb', 'update_cache', 'upgrade', 'autoremove', 'autoclean', 'clean']],
    mutuallyExclusive: [['deb', 'name', 'upgrade']],
  },
  plan: planApt,
};
