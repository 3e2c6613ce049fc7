/**
 * sysctl (ansible.posix): one round trip reads the sysctl file and the live value; the file
 * is rewritten the way ansible.posix's fix_lines does (every `k = v` normalised to `k=v`,
 * duplicate keys dropped), then a second round trip writes it atomically, sets the live
 * value (sysctl_set) and reloads (`sysctl -p FILE`) only when something changed.
 */
import type { RunResult } from '../../src/transport/types.js';
import { toBool } from '../args.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, fileContent, readAnswer, readFileSh, WRITE_STDIN } from './remote-sh.js';

export interface SysctlArgs {
  name: string;
  value?: string;
  state: 'present' | 'absent';
  ignoreerrors: boolean;
  reload: boolean;
  sysctl_file: string;
  sysctl_set: boolean;
}

/** ansible.posix _parse_value: booleans become 1/0, other values are stripped. */
export function sysctlValue(v: string | undefined): string {
  if (v === undefined) return '';
  const b = toBool(v);
  if (b !== undefined && !/^\d+$/.test(v.trim())) return b ? '1' : '0';
  return v.trim();
}

/** ansible.posix fix_lines plus the decision table of its process(). */
export function editSysctlFile(
  content: string,
  name: string,
  value: string,
  state: 'present' | 'absent',
): { lines: string[]; fileValue: string | undefined } {
  const lines = content.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let fileValue: string | undefined;
  for (const line of lines) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';') || !t.includes('=')) continue;
    const i = t.indexOf('=');
    fileValue = t.slice(0, i).trim() === name ? t.slice(i + 1).trim() : fileValue;
  }
  const checked = new Set<string>();
  const out: string[] = [];
  for (const line of lines) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';') || !line.includes('=')) {
      out.push(line);
      continue;
    }
    const i = t.indexOf('=');
    const k = t.slice(0, i).trim();
    const v = t.slice(i + 1).trim();
    if (checked.has(k)) continue;
    checked.add(k);
    if (k === name) {
      if (state === 'present') out.push(`${k}=${value}\n`);
    } else out.push(`${k}=${v}\n`);
  }
  if (!checked.has(name) && state === 'present') out.push(`${name}=${value}\n`);
  return { lines: out, fileValue };
}

const READ = `${readFileSh('content', '"$file"')}
if cur=$(sysctl -n "$name" 2>/dev/null); then d_set proc_exists 1; d_emit proc "$cur"; fi`;

const APPLY = `if [ -n "$write" ]; then
${WRITE_STDIN}
fi
if [ -n "$set_proc" ]; then
  o=$(sysctl -w "$name=$value" 2>&1) || d_fail "setting $name failed: $o"
fi
if [ -n "$reload" ]; then
  if [ -n "$ignoreerrors" ]; then o=$(sysctl -e -p "$file" 2>&1); else o=$(sysctl -p "$file" 2>&1); fi
  r=$?
  if [ $r -ne 0 ] || { [ -z "$ignoreerrors" ] && printf '%s' "$o" | grep -q -e '^sysctl: cannot stat' -e '^sysctl: setting key'; }; then
    d_fail "Failed to reload sysctl: $o"
  fi
fi`;

export function planSysctl(a: SysctlArgs, ctx: PlanContext): Step | TaskResult {
  const name = a.name.trim();
  if (a.state === 'present' && (a.value === undefined || a.value === '')) {
    return { failed: true, msg: 'value cannot be None' };
  }
  const value = sysctlValue(a.value);
  return {
    script: buildScript(ctx.check, { file: a.sysctl_file, name }, READ),
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'sysctl');
      if (failure) return failure;
      const content = fileContent(report, 'content') ?? '';
      const proc = report.flag('proc_exists') ? (report.get('proc') ?? '') : undefined;
      const { lines, fileValue } = editSysctlFile(content, name, value, a.state);
      let changed = false;
      let write = false;
      let setProc = false;
      const sameLive =
        proc !== undefined && proc.split(/\s+/).join(' ').trim() === value.split(/\s+/).join(' ');
      if (fileValue === undefined && a.state === 'present') changed = write = true;
      else if (fileValue === undefined && a.state === 'absent') changed = false;
      else if (fileValue !== undefined && a.state === 'absent') changed = write = true;
      else if (fileValue !== value) changed = write = true;
      else if (a.reload && !sameLive) changed = true;
      if (a.sysctl_set && a.state === 'present') {
        if (proc === undefined) changed = true;
        else if (!sameLive) changed = setProc = true;
      }
      const res: TaskResult = { changed };
      if (!changed || ctx.check) return res;
      return {
        script: buildScript(
          false,
          {
            file: a.sysctl_file,
            dest: a.sysctl_file,
            name,
            value,
            write: write ? '1' : '',
            set_proc: setProc ? '1' : '',
            reload: a.reload ? '1' : '',
            ignoreerrors: a.ignoreerrors ? '1' : '',
            mode: '',
            owner: '',
            mkdirs: '1',
          },
          APPLY,
        ),
        stdin: lines.join(''),
        parse(w: RunResult): TaskResult {
          return readAnswer(w, 'sysctl').failure ?? res;
        },
      };
    },
  };
}

export const sysctl: Module<SysctlArgs> = {
  names: ['sysctl', 'ansible.posix.sysctl', 'ansible.builtin.sysctl'],
  check: 'full',
  args: {
    options: {
      name: { type: 'str', required: true, aliases: ['key'] },
      value: { type: 'str', aliases: ['val'] },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'] },
      reload: { type: 'bool', default: true },
      sysctl_file: { type: 'path', default: '/etc/sysctl.conf' },
      ignoreerrors: { type: 'bool', default: false },
      sysctl_set: { type: 'bool', default: false },
    },
  },
  plan: planSysctl,
};
