/**
 * tempfile: a new file or directory named prefix + random + suffix. Creation is atomic
 * without `mktemp --suffix` (GNU-only): `set -C` makes `: >` fail on an existing name,
 * `mkdir` fails on one too, and the script retries with a new random part.
 */
import { parseReport } from '../sh/protocol.js';
import { shScript } from '../sh/script.js';
import { parseStat } from '../sh/stat.js';
import type { Module, PlanContext, Step } from '../types.js';
import { failureFrom, statResult } from './common.js';

export interface TempfileArgs {
  state: 'file' | 'directory';
  path?: string;
  prefix: string;
  suffix: string;
}

const TEMPFILE_BODY = String.raw`
[ -n "$dir" ] || dir=${'$'}{TMPDIR:-/tmp}
[ -d "$dir" ] || dr_fail "No such file or directory: $dir"
dr_n=0
while :; do
  dr_r=$(od -An -N6 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
  [ -n "$dr_r" ] || dr_r="$$$dr_n"
  p="$dir/$prefix$dr_r$suffix"
  if [ "$state" = directory ]; then
    mkdir -m 700 "$p" 2>/dev/null && break
  else
    ( umask 077; set -C; : > "$p" ) 2>/dev/null && break
  fi
  dr_n=$((dr_n + 1))
  [ "$dr_n" -lt 100 ] || dr_fail "could not create a temporary $state in $dir"
done
dr_out64 path "$p"
dr_stat path. "$p"
`;

function planTempfile(args: TempfileArgs, ctx: PlanContext): Step {
  return {
    // Ansible creates the temp file in check mode too: the module has no check-mode branch.
    script: shScript({
      check: ctx.check,
      vars: { state: args.state, dir: args.path, prefix: args.prefix, suffix: args.suffix },
      tilde: ['dir'],
      body: TEMPFILE_BODY,
    }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('tempfile', r, report);
      if (failed) return failed;
      return { changed: true, path: report.get('path') ?? '', ...statResult(parseStat(report, 'path.')) };
    },
  };
}

export const tempfileModule: Module<TempfileArgs> = {
  names: ['tempfile', 'ansible.builtin.tempfile', 'ansible.legacy.tempfile'],
  check: 'none',
  args: {
    options: {
      state: { type: 'str', default: 'file', choices: ['file', 'directory'] },
      path: { type: 'path' },
      prefix: { type: 'str', default: 'ansible.' },
      suffix: { type: 'str', default: '' },
    },
  },
  plan: planTempfile,
};
