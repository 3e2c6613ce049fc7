/**
 * reboot: the planner only records the boot id and issues the reboot command in the
 * background, so the exec returns before the connection drops. Waiting for the host to go
 * down and come back (boot id changed, test_command passing) is the runner's job, because
 * only the runner can reconnect: it reads `boot_id_before` and `post_reboot` from the
 * result and replaces `elapsed` with the real time.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, readAnswer } from './remote-sh.js';

export interface RebootArgs {
  pre_reboot_delay: number;
  post_reboot_delay: number;
  reboot_timeout: number;
  connect_timeout?: number;
  test_command: string;
  msg: string;
  search_paths: string[];
  boot_time_command: string;
  reboot_command?: string;
}

const BODY = `d_emit boot_id "$(sh -c "$boot_cmd" 2>/dev/null)"
[ -n "$CHECK" ] && exit 0
if [ -n "$reboot_cmd" ]; then
  (sleep 1; sh -c "$reboot_cmd") >/dev/null 2>&1 </dev/null &
else
  PATH=$PATH:$search_path
  if d_has shutdown; then (sleep 1; shutdown -r "+$delay_min" "$msg") >/dev/null 2>&1 </dev/null &
  elif d_has reboot; then (sleep "$delay_sec"; reboot) >/dev/null 2>&1 </dev/null &
  else d_fail "Unable to find command shutdown or reboot in search paths"; fi
fi
d_changed
exit 0`;

export function planReboot(a: RebootArgs, ctx: PlanContext): Step {
  return {
    script: buildScript(
      ctx.check,
      {
        boot_cmd: a.boot_time_command,
        reboot_cmd: a.reboot_command ?? '',
        search_path: a.search_paths.join(':'),
        delay_min: Math.floor(a.pre_reboot_delay / 60),
        delay_sec: a.pre_reboot_delay,
        msg: a.msg,
      },
      BODY,
    ),
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'reboot');
      if (failure) return { ...failure, rebooted: false };
      return {
        changed: true,
        rebooted: !ctx.check,
        elapsed: 0,
        boot_id_before: report.get('boot_id') ?? '',
        post_reboot: {
          delay: a.post_reboot_delay,
          timeout: a.reboot_timeout,
          connect_timeout: a.connect_timeout,
          test_command: a.test_command,
          boot_time_command: a.boot_time_command,
        },
      };
    },
  };
}

export const reboot: Module<RebootArgs> = {
  names: ['reboot', 'ansible.builtin.reboot'],
  check: 'full',
  args: {
    options: {
      pre_reboot_delay: { type: 'int', default: 0, aliases: ['reboot_delay'] },
      post_reboot_delay: { type: 'int', default: 0 },
      reboot_timeout: { type: 'int', default: 600 },
      connect_timeout: { type: 'int' },
      test_command: { type: 'str', default: 'whoami' },
      msg: { type: 'str', default: 'Reboot initiated by Ansible' },
      search_paths: {
        type: 'list',
        elements: 'str',
        default: ['/sbin', '/bin', '/usr/sbin', '/usr/bin', '/usr/local/sbin'],
      },
      boot_time_command: { type: 'str', default: 'cat /proc/sys/kernel/random/boot_id' },
      reboot_command: { type: 'str' },
    },
  },
  plan: planReboot,
};
