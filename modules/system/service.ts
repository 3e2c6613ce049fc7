/**
 * service, systemd / systemd_service: one round trip that detects the service manager
 * (systemctl when systemd is PID 1, else OpenRC's rc-service, else sysv `service` or
 * /etc/init.d with update-rc.d/chkconfig for boot links), reads the unit's running and
 * enabled state, changes only what differs, and reports before/after.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, readAnswer } from './remote-sh.js';

export interface ServiceArgs {
  name?: string;
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
  enabled?: boolean;
  masked?: boolean;
  daemon_reload?: boolean;
  daemon_reexec?: boolean;
  force?: boolean;
  no_block?: boolean;
  scope?: string;
  sleep?: number;
  pattern?: string;
  arguments?: string;
  runlevel?: string;
  use?: string;
}

const BODY = `mgr=$use
if [ -z "$mgr" ] || [ "$mgr" = auto ]; then
  if [ -d /run/systemd/system ] && d_has systemctl; then mgr=systemd
  elif d_has rc-service && [ -d /run/openrc ]; then mgr=openrc
  else mgr=sysv; fi
fi
d_set manager "$mgr"
if [ "$mgr" = systemd ]; then
  sc() { if [ -n "$scope" ] && [ "$scope" != system ]; then systemctl "--$scope" "$@"; else systemctl "$@"; fi; }
  if [ -n "$daemon_reexec" ]; then d_run "failure running daemon-reexec" sc daemon-reexec; fi
  if [ -n "$daemon_reload" ]; then d_run "failure running daemon-reload" sc daemon-reload; fi
  [ -n "$name" ] || exit 0
  en=$(sc is-enabled "$name" 2>/dev/null); act=$(sc is-active "$name" 2>/dev/null)
  found=1
  if [ -z "$en" ] && [ "$act" != active ]; then
    sc show "$name" -p LoadState 2>/dev/null | grep -q 'LoadState=not-found' && found=
  fi
  [ -n "$found" ] || d_fail "Could not find the requested service $name: host"
  nb=; [ -n "$no_block" ] && nb=--no-block
  if [ -n "$masked" ]; then
    if [ "$masked" = yes ] && [ "$en" != masked ]; then d_changed; d_run "Unable to mask service $name" sc mask "$name"; en=masked
    elif [ "$masked" = no ] && [ "$en" = masked ]; then d_changed; d_run "Unable to unmask service $name" sc unmask "$name"; en=$(sc is-enabled "$name" 2>/dev/null); fi
  fi
  if [ -n "$enabled" ]; then
    case "$en" in enabled|enabled-runtime|alias|static|indirect|generated) is_en=yes;; *) is_en=no;; esac
    [ "$en" = static ] && [ "$enabled" = no ] && is_en=no
    if [ "$enabled" != "$is_en" ]; then
      [ "$en" = masked ] && d_fail "Unable to enable service $name: unit is masked"
      d_changed
      if [ "$enabled" = yes ]; then d_run "Unable to enable service $name" sc enable "$name"; else d_run "Unable to disable service $name" sc disable "$name"; fi
    fi
    d_set enabled "$enabled"
  fi
  running=no; case "$act" in active|activating|reloading) running=yes;; esac
  case "$state" in
    started) [ $running = yes ] || { d_changed; d_run "Unable to start service $name" sc $nb start "$name"; } ;;
    stopped) [ $running = no ] || { d_changed; d_run "Unable to stop service $name" sc $nb stop "$name"; } ;;
    restarted) d_changed; d_run "Unable to restart service $name" sc $nb restart "$name" ;;
    reloaded) d_changed; if [ $running = yes ]; then d_run "Unable to reload service $name" sc $nb reload "$name"; else d_run "Unable to start service $name" sc $nb start "$name"; fi ;;
  esac
  [ -z "$CHECK" ] && d_emit status "$(sc show "$name" 2>/dev/null)"
  exit 0
fi
[ -n "$name" ] || exit 0
if [ "$mgr" = openrc ]; then
  rc-service -e "$name" >/dev/null 2>&1 || d_fail "Could not find the requested service $name: host"
  status() { rc-service "$name" status >/dev/null 2>&1; }
  ctl() { rc-service "$name" "$@"; }
  is_enabled() { rc-update show "\${runlevel:-default}" 2>/dev/null | awk '{print $1}' | grep -Fxq -- "$name"; }
  do_enable() { rc-update add "$name" "\${runlevel:-default}"; }
  do_disable() { rc-update del "$name" "\${runlevel:-default}"; }
else
  if [ -x "/etc/init.d/$name" ]; then script="/etc/init.d/$name"
  elif [ -x "/etc/rc.d/init.d/$name" ]; then script="/etc/rc.d/init.d/$name"
  else d_fail "Could not find the requested service $name: host"; fi
  ctl() { if d_has service; then service "$name" "$@" $arguments; else "$script" "$@" $arguments; fi; }
  status() {
    if [ -n "$pattern" ]; then ps -eo args 2>/dev/null | grep -v grep | grep -q -- "$pattern"; return; fi
    ctl status >/dev/null 2>&1
  }
  is_enabled() { for l in /etc/rc[2345].d/S??"$name" /etc/rc.d/rc[2345].d/S??"$name"; do [ -e "$l" ] && return 0; done; return 1; }
  do_enable() { if d_has update-rc.d; then update-rc.d "$name" defaults && update-rc.d "$name" enable; elif d_has chkconfig; then chkconfig "$name" on; else echo "no update-rc.d or chkconfig to enable $name" >&2; return 1; fi; }
  do_disable() { if d_has update-rc.d; then update-rc.d "$name" disable; elif d_has chkconfig; then chkconfig "$name" off; else echo "no update-rc.d or chkconfig to disable $name" >&2; return 1; fi; }
fi
if [ -n "$enabled" ]; then
  if is_enabled; then is_en=yes; else is_en=no; fi
  if [ "$enabled" != "$is_en" ]; then
    d_changed
    if [ "$enabled" = yes ]; then d_run "Unable to enable service $name" do_enable; else d_run "Unable to disable service $name" do_disable; fi
  fi
  d_set enabled "$enabled"
fi
if status; then running=yes; else running=no; fi
case "$state" in
  started) [ $running = yes ] || { d_changed; d_run "Unable to start service $name" ctl start; } ;;
  stopped) [ $running = no ] || { d_changed; d_run "Unable to stop service $name" ctl stop; } ;;
  restarted) d_changed; d_run "Unable to restart service $name" ctl restart ;;
  reloaded) d_changed; if [ $running = yes ]; then d_run "Unable to reload service $name" ctl reload; else d_run "Unable to start service $name" ctl start; fi ;;
esac
[ -n "$sleep" ] && [ -z "$CHECK" ] && [ "$state" = restarted ] && sleep "$sleep"
exit 0`;

function parseShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function planWith(kind: 'service' | 'systemd') {
  return (a: ServiceArgs, ctx: PlanContext): Step | TaskResult => {
    if (kind === 'service' && a.state === undefined && a.enabled === undefined) {
      return { failed: true, msg: 'Neither argument state nor enabled are set' };
    }
    const yn = (b: boolean | undefined) => (b === undefined ? '' : b ? 'yes' : 'no');
    const script = buildScript(
      ctx.check,
      {
        name: a.name ?? '',
        state: a.state ?? '',
        enabled: yn(a.enabled),
        masked: yn(a.masked),
        daemon_reload: a.daemon_reload ? '1' : '',
        daemon_reexec: a.daemon_reexec ? '1' : '',
        no_block: a.no_block ? '1' : '',
        scope: a.scope ?? '',
        pattern: a.pattern ?? '',
        arguments: a.arguments ?? '',
        runlevel: a.runlevel ?? '',
        sleep: a.sleep,
        use:
          kind === 'systemd'
            ? 'systemd'
            : a.use === 'systemd' || a.use === 'sysvinit' || a.use === 'openrc'
              ? a.use === 'sysvinit'
                ? 'sysv'
                : a.use
              : '',
      },
      BODY,
    );
    return {
      script,
      parse(r: RunResult): TaskResult {
        const { report, failure } = readAnswer(r, kind);
        if (failure) return { ...failure, name: a.name };
        const res: TaskResult = { changed: report.flag('changed') };
        if (a.name !== undefined) res.name = a.name;
        if (a.state !== undefined) res.state = a.state === 'stopped' ? 'stopped' : 'started';
        if (a.enabled !== undefined) res.enabled = a.enabled;
        const status = report.get('status');
        if (status !== undefined && report.get('manager') === 'systemd') res.status = parseShow(status);
        return res;
      },
    };
  };
}

export const service: Module<ServiceArgs> = {
  names: ['service', 'ansible.builtin.service', 'ansible.legacy.service'],
  check: 'full',
  args: {
    options: {
      name: { type: 'str', required: true },
      state: { type: 'str', choices: ['reloaded', 'restarted', 'started', 'stopped'] },
      sleep: { type: 'int' },
      pattern: { type: 'str' },
      enabled: { type: 'bool' },
      runlevel: { type: 'str', default: 'default' },
      arguments: { type: 'str', default: '', aliases: ['args'] },
      use: { type: 'str', default: 'auto' },
    },
  },
  plan: planWith('service'),
};

export const systemd: Module<ServiceArgs> = {
  names: ['systemd', 'systemd_service', 'ansible.builtin.systemd', 'ansible.builtin.systemd_service'],
  check: 'full',
  args: {
    options: {
      name: { type: 'str', aliases: ['service', 'unit'] },
      state: { type: 'str', choices: ['reloaded', 'restarted', 'started', 'stopped'] },
      enabled: { type: 'bool' },
      force: { type: 'bool' },
      masked: { type: 'bool' },
      daemon_reload: { type: 'bool', default: false, aliases: ['daemon-reload'] },
      daemon_reexec: { type: 'bool', default: false, aliases: ['daemon-reexec'] },
      scope: { type: 'str', default: 'system', choices: ['system', 'user', 'global'] },
      no_block: { type: 'bool', default: false },
    },
  },
  plan: planWith('systemd'),
};
