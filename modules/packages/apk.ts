/**
 * apk (community.general.apk) for Alpine/busybox targets: one round trip that checks each
 * package with `apk info -e`, then adds, upgrades or deletes what differs.
 */
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, lines, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface ApkArgs {
  name: string[];
  state: 'present' | 'absent' | 'latest' | 'installed' | 'removed';
  update_cache: boolean;
  upgrade: boolean;
  available: boolean;
  no_cache: boolean;
  repository: string[];
  world: string;
}

const BODY = `d_has apk || d_fail "Failed to find required executable \\"apk\\" in paths: $PATH"
if [ -n "$update_cache" ] && [ -z "$CHECK" ]; then o=$(apk update 2>&1) || d_fail "could not update package db: $o"; d_set cache_updated 1; fi
set --
while IFS= read -r p; do
  [ -n "$p" ] || continue
  if apk info -e "$p" >/dev/null 2>&1; then inst=1; else inst=; fi
  case "$state" in
    absent) [ -n "$inst" ] && set -- "$@" "$p" ;;
    latest) if [ -z "$inst" ]; then set -- "$@" "$p"; elif apk version -l '<' "$p" 2>/dev/null | grep -q "^$p-"; then set -- "$@" "$p"; fi ;;
    *) [ -z "$inst" ] && set -- "$@" "$p" ;;
  esac
done <<EOF_NAMES
$names
EOF_NAMES
if [ $# -gt 0 ]; then
  d_changed
  for p; do d_emit packages "$p"; done
  if [ -z "$CHECK" ]; then
    if [ "$state" = absent ]; then o=$(apk del "$@" 2>&1)
    elif [ "$state" = latest ]; then o=$(apk add --upgrade "$@" 2>&1)
    else o=$(apk add "$@" 2>&1); fi || d_fail "failed to $state packages $*: $o"
    d_emit stdout "$o"
  fi
fi
exit 0`;

export function planApk(a: ApkArgs, ctx: PlanContext): Step | TaskResult {
  const state = a.state === 'installed' ? 'present' : a.state === 'removed' ? 'absent' : a.state;
  return {
    script: buildScript(
      ctx.check,
      { names: lines(a.name), state, update_cache: a.update_cache ? '1' : '' },
      BODY,
      ctx.remoteTmp,
    ),
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'apk');
      if (failure) return failure;
      const changed = report.flag('changed');
      const pkgs = report.all('packages');
      const verb = state === 'absent' ? 'removed' : state === 'latest' ? 'installed/upgraded' : 'installed';
      return {
        changed,
        msg: changed
          ? `${verb} ${pkgs.join(' ')} package(s)`
          : `package(s) already ${state === 'absent' ? 'removed' : 'installed'}`,
        packages: pkgs,
        stdout: report.get('stdout') ?? '',
      };
    },
  };
}

export const apk: Module<ApkArgs> = {
  names: ['apk', 'community.general.apk'],
  check: 'full',
  args: {
    options: {
      name: { type: 'list', elements: 'str', default: [] },
      state: {
        type: 'str',
        default: 'present',
        choices: ['present', 'absent', 'latest', 'installed', 'removed'],
      },
      update_cache: { type: 'bool', default: false },
      upgrade: { type: 'bool', default: false },
      available: { type: 'bool', default: false },
      no_cache: { type: 'bool', default: false },
      repository: { type: 'list', elements: 'str', default: [] },
      world: { type: 'str', default: '/etc/apk/world' },
    },
  },
  plan: planApk,
};
