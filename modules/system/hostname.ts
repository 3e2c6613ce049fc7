/**
 * hostname: set the running hostname and persist it, with hostnamectl where systemd runs
 * (use=systemd, or auto-detected), else by writing /etc/hostname and running `hostname`
 * (the `debian`/`alpine`/`generic` strategies). One round trip.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, readAnswer } from './remote-sh.js';

export interface HostnameArgs {
  name: string;
  use?: string;
}

const BODY = `cur=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
saved=$(cat /etc/hostname 2>/dev/null | head -n 1)
d_emit before "$cur"
d_emit before_saved "$saved"
strategy=$use
if [ -z "$strategy" ]; then
  if [ -d /run/systemd/system ] && d_has hostnamectl; then strategy=systemd; else strategy=file; fi
fi
d_set strategy "$strategy"
case "$strategy" in
  systemd)
    if [ "$cur" != "$name" ] || [ "$saved" != "$name" ]; then
      d_changed
      d_run "Command failed: hostnamectl set-hostname" hostnamectl set-hostname "$name"
    fi ;;
  *)
    if [ "$saved" != "$name" ]; then
      d_changed
      if [ -z "$CHECK" ]; then printf '%s\\n' "$name" > /etc/hostname.drover.tmp && mv -f /etc/hostname.drover.tmp /etc/hostname || d_fail "failed to write /etc/hostname"; fi
    fi
    if [ "$cur" != "$name" ]; then
      d_changed
      if d_has hostname; then d_run "Command failed: hostname $name" hostname "$name"
      elif [ -z "$CHECK" ]; then printf '%s' "$name" > /proc/sys/kernel/hostname || d_fail "failed to set the running hostname"; fi
    fi ;;
esac
exit 0`;

export function planHostname(a: HostnameArgs, ctx: PlanContext): Step | TaskResult {
  const use = a.use === 'systemd' ? 'systemd' : a.use === undefined ? '' : 'file';
  return {
    script: buildScript(ctx.check, { name: a.name, use }, BODY),
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'hostname');
      if (failure) return failure;
      const short = a.name.split('.')[0]!;
      const domain = a.name.includes('.') ? a.name.slice(a.name.indexOf('.') + 1) : '';
      const res: TaskResult = {
        changed: report.flag('changed'),
        name: a.name,
        ansible_facts: {
          ansible_hostname: short,
          ansible_nodename: a.name,
          ansible_fqdn: a.name,
          ansible_domain: domain,
        },
      };
      if (ctx.diff && res.changed) {
        res.diff = {
          before: `hostname = ${report.get('before') ?? ''}\n`,
          after: `hostname = ${a.name}\n`,
        };
      }
      return res;
    },
  };
}

export const hostname: Module<HostnameArgs> = {
  names: ['hostname', 'ansible.builtin.hostname'],
  check: 'full',
  diff: true,
  args: {
    options: {
      name: { type: 'str', required: true },
      use: {
        type: 'str',
        choices: [
          'alpine',
          'debian',
          'freebsd',
          'generic',
          'macos',
          'macosx',
          'darwin',
          'openbsd',
          'openrc',
          'redhat',
          'sles',
          'solaris',
          'systemd',
        ],
      },
    },
  },
  plan: planHostname,
};
