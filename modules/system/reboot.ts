/**
 * reboot: the planner only records the boot id and issues the reboot command in the
 * background, so the exec returns before the connection drops. Waiting for the host to go
 * down and come back (boot id changed, test_command passing) is the runner's job, because
 * only the runner can reconnect: it reads `boot_id_before` and `post_reboot` from the
 * result and replaces `elapsed` with the real time.
 */
import type { Connection, RunResult } from '../../src/transport/types.js';
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
      // Ansible's reboot action in check mode: changed, nothing waited for.
      if (ctx.check) return { changed: true, elapsed: 0, rebooted: true };
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

export interface PostReboot {
  delay: number;
  timeout: number;
  connect_timeout?: number;
  test_command: string;
  boot_time_command: string;
}

export interface RebootWaitPorts {
  /** A connected connection to the host (a new one after `drop`). */
  connect(): Promise<Connection>;
  /** Forget the host's connection: the next `connect` opens a new one. */
  drop(): Promise<void>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * The runner's half of reboot (Ansible's reboot action after the command): drop the
 * connection, reconnect until the boot id differs from `boot_id_before`, wait
 * post_reboot_delay, then retry `test_command` until it passes, all within reboot_timeout.
 * Returns the task result as Ansible reports it ({changed, rebooted, elapsed}).
 */
export async function awaitReboot(result: TaskResult, ports: RebootWaitPorts): Promise<TaskResult> {
  const sleep = ports.sleep ?? ((ms: number) => new Promise<void>((res) => setTimeout(res, ms)));
  const now = ports.now ?? Date.now;
  const post = result.post_reboot as PostReboot;
  const before = String(result.boot_id_before ?? '');
  const { post_reboot: _p, boot_id_before: _b, ...rest } = result;
  const start = now();
  const deadline = start + post.timeout * 1000;
  const elapsed = () => Math.round((now() - start) / 1000);
  let phase = 'last boot time check';
  let booted = false;
  await ports.drop();
  while (now() < deadline) {
    await sleep(booted ? 1000 : 500);
    try {
      const conn = await ports.connect();
      if (!booted) {
        const r = await conn.run(post.boot_time_command);
        const id = r.stdout.trim();
        // The old boot still answers until the host goes down: keep asking.
        if (r.rc !== 0 || id === '' || id === before) continue;
        booted = true;
        phase = 'post-reboot test command';
        if (post.delay > 0) await sleep(post.delay * 1000);
      }
      const t = await conn.run(post.test_command);
      if (t.rc === 0) return { ...rest, changed: true, rebooted: true, elapsed: elapsed() };
    } catch {
      // host down or still booting: a fresh connection next time
      await ports.drop().catch(() => undefined);
    }
  }
  return {
    ...rest,
    changed: true,
    failed: true,
    rebooted: true,
    elapsed: elapsed(),
    msg: `Timed out waiting for ${phase} (timeout=${post.timeout})`,
  };
}
