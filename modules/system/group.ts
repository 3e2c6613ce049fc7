/**
 * group: create, change the gid of, or delete a group with groupadd/groupmod/groupdel, or
 * busybox addgroup/delgroup where shadow-utils are missing. One round trip.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, readAnswer } from './remote-sh.js';

export interface GroupArgs {
  name: string;
  gid?: number;
  state: 'present' | 'absent';
  force: boolean;
  system: boolean;
  local: boolean;
  non_unique: boolean;
}

/** Look a group up by name: sets g_line to its group(5) line, empty when absent. */
export const GROUP_LOOKUP = `d_group() { g_line=$(getent group "$1" 2>/dev/null) || g_line=$(G="$1" awk -F: '$1==ENVIRON["G"]{print; exit}' /etc/group 2>/dev/null); }`;

const BODY = `${GROUP_LOOKUP}
d_group "$name"
if [ "$state" = absent ]; then
  if [ -n "$g_line" ]; then
    d_changed
    if d_has groupdel; then
      if [ -n "$force" ]; then d_run "groupdel failed" groupdel -f "$name"; else d_run "groupdel failed" groupdel "$name"; fi
    else d_run "delgroup failed" delgroup "$name"; fi
  fi
  exit 0
fi
if [ -z "$g_line" ]; then
  d_changed
  if d_has groupadd; then
    set -- groupadd
    [ -n "$gid" ] && set -- "$@" -g "$gid"
    [ -n "$non_unique" ] && set -- "$@" -o
    [ -n "$system" ] && set -- "$@" -r
    d_run "groupadd failed" "$@" "$name"
  else
    set -- addgroup
    [ -n "$gid" ] && set -- "$@" -g "$gid"
    [ -n "$system" ] && set -- "$@" -S
    d_run "addgroup failed" "$@" "$name"
  fi
else
  cur=$(printf '%s' "$g_line" | cut -d: -f3)
  if [ -n "$gid" ] && [ "$cur" != "$gid" ]; then
    d_changed
    if [ -n "$non_unique" ]; then d_run "groupmod failed" groupmod -o -g "$gid" "$name"; else d_run "groupmod failed" groupmod -g "$gid" "$name"; fi
  fi
fi
d_group "$name"
[ -n "$g_line" ] && d_set gid "$(printf '%s' "$g_line" | cut -d: -f3)"
exit 0`;

export function planGroup(a: GroupArgs, ctx: PlanContext): Step {
  const script = buildScript(
    ctx.check,
    {
      name: a.name,
      state: a.state,
      gid: a.gid,
      force: a.force ? '1' : '',
      system: a.system ? '1' : '',
      non_unique: a.non_unique ? '1' : '',
    },
    BODY,
  );
  return {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'group');
      if (failure) return { ...failure, name: a.name };
      const res: TaskResult = { changed: report.flag('changed'), name: a.name, state: a.state };
      if (a.state === 'present') {
        const gid = report.int('gid') ?? a.gid;
        if (gid !== undefined) res.gid = gid;
        res.system = a.system;
      }
      return res;
    },
  };
}

export const group: Module<GroupArgs> = {
  names: ['group', 'ansible.builtin.group'],
  check: 'full',
  args: {
    options: {
      name: { type: 'str', required: true },
      gid: { type: 'int' },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
      force: { type: 'bool', default: false },
      system: { type: 'bool', default: false },
      local: { type: 'bool', default: false },
      non_unique: { type: 'bool', default: false },
    },
  },
  plan: planGroup,
};
