/**
 * mount (ansible.posix): one round trip reads the fstab and whether the path is mounted;
 * the fstab edit follows ansible.posix's set_mount/unset_mount (fields escaped with \040,
 * \046, \134; a changed entry is rewritten `src path fstype opts dump passno`); a second
 * round trip writes the fstab atomically and mounts/unmounts/remounts as the state asks.
 * Where the host cannot mount (containers, namespaced test hosts), the mount command's own
 * error comes back as the task's failure; state=present manages only the fstab.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, fileContent, readAnswer, readFileSh, WRITE_STDIN } from './remote-sh.js';

export interface MountArgs {
  path: string;
  src?: string;
  fstype?: string;
  opts?: string;
  dump: string;
  passno: string;
  state: 'absent' | 'absent_from_fstab' | 'mounted' | 'present' | 'unmounted' | 'remounted' | 'ephemeral';
  fstab: string;
  boot: boolean;
  backup: boolean;
}

export function escapeFstab(v: string): string {
  return v.replaceAll('\\', '\\134').replaceAll(' ', '\\040').replaceAll('&', '\\046');
}

const FIELDS = ['src', 'name', 'fstype', 'opts', 'dump', 'passno'] as const;
type Entry = Record<(typeof FIELDS)[number], string>;

function line(e: Entry): string {
  return `${e.src} ${e.name} ${e.fstype} ${e.opts} ${e.dump} ${e.passno}\n`;
}

/** ansible.posix set_mount: update every entry for the path, or append one. */
export function setMount(content: string, want: Entry): { content: string; changed: boolean } {
  const lines = content.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const out: string[] = [];
  let exists = false;
  let changed = false;
  for (const l of lines) {
    const t = l.trim();
    const fields = t.split(/\s+/);
    if (!t || t.startsWith('#') || fields.length !== 6) {
      out.push(l);
      continue;
    }
    const ld = Object.fromEntries(FIELDS.map((k, i) => [k, fields[i]!])) as Entry;
    if (ld.name !== want.name) {
      out.push(l);
      continue;
    }
    exists = true;
    let lineChanged = false;
    for (const k of ['src', 'fstype', 'opts', 'dump', 'passno'] as const) {
      if (ld[k] !== want[k]) {
        ld[k] = want[k];
        lineChanged = true;
      }
    }
    if (lineChanged) {
      changed = true;
      out.push(line(ld));
    } else out.push(l);
  }
  if (!exists) {
    if (out.length > 0 && !out[out.length - 1]!.endsWith('\n')) out[out.length - 1] += '\n';
    out.push(line(want));
    changed = true;
  }
  return { content: out.join(''), changed };
}

/** ansible.posix unset_mount: drop every entry for the path. */
export function unsetMount(content: string, name: string): { content: string; changed: boolean } {
  const lines = content.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const out = lines.filter((l) => {
    const t = l.trim();
    const f = t.split(/\s+/);
    return !t || t.startsWith('#') || f.length !== 6 || f[1] !== name;
  });
  return { content: out.join(''), changed: out.length !== lines.length };
}

const READ = `${readFileSh('content', '"$fstab"')}
if P="$escaped" awk '$2==ENVIRON["P"]{f=1} END{exit !f}' /proc/mounts 2>/dev/null; then d_set mounted 1; fi`;

const APPLY = `if [ -n "$write" ]; then
  [ -n "$backup" ] && [ -f "$fstab" ] && dr_backup "$fstab"
  dest=$fstab
${WRITE_STDIN}
fi
fsarg=; [ "$fstab" != /etc/fstab ] && fsarg="-T"
case "$action" in
  mount)
    [ -d "$path" ] || mkdir -p "$path" || d_fail "Error making dir $path"
    if [ -n "$fsarg" ]; then o=$(mount -T "$fstab" "$path" 2>&1); else o=$(mount "$path" 2>&1); fi || d_fail "Error mounting $path: $o" ;;
  ephemeral)
    [ -d "$path" ] || mkdir -p "$path" || d_fail "Error making dir $path"
    o=$(mount -t "$fstype" -o "$opts" "$src" "$path" 2>&1) || d_fail "Error mounting $path: $o" ;;
  remount)
    if [ -n "$fsarg" ]; then o=$(mount -T "$fstab" -o remount "$path" 2>&1); else o=$(mount -o remount "$path" 2>&1); fi || d_fail "Error remounting $path: $o" ;;
  umount)
    o=$(umount "$path" 2>&1) || d_fail "Error unmounting $path: $o" ;;
esac
if [ -n "$rmdir" ] && [ -d "$path" ]; then rmdir "$path" 2>/dev/null || d_fail "Error rmdir $path"; fi
d_changed`;

export function planMount(a: MountArgs, ctx: PlanContext): Step | TaskResult {
  const needsSrc = a.state === 'present' || a.state === 'mounted' || a.state === 'ephemeral';
  if (needsSrc && (a.src === undefined || a.fstype === undefined)) {
    return { failed: true, msg: `state=${a.state} requires src and fstype` };
  }
  let opts = a.opts ?? 'defaults';
  if (!a.boot && a.state !== 'ephemeral') opts = opts === 'defaults' ? 'noauto' : `${opts},noauto`;
  const want: Entry = {
    src: escapeFstab(a.src ?? ''),
    name: escapeFstab(a.path),
    fstype: escapeFstab(a.fstype ?? ''),
    opts: escapeFstab(opts),
    dump: a.dump,
    passno: a.passno,
  };
  const base: TaskResult = {
    name: a.path,
    src: a.src,
    fstype: a.fstype,
    opts,
    dump: a.dump,
    passno: a.passno,
    fstab: a.fstab,
    boot: a.boot,
    state: a.state,
  };
  return {
    script: buildScript(ctx.check, { fstab: a.fstab, escaped: want.name }, READ),
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'mount');
      if (failure) return failure;
      const before = fileContent(report, 'content') ?? '';
      const mounted = report.flag('mounted');
      let after = before;
      let write = false;
      let action = '';
      let rmdir = false;
      if (a.state === 'present' || a.state === 'mounted') {
        const s = setMount(before, want);
        after = s.content;
        write = s.changed;
        if (a.state === 'mounted') action = !mounted ? 'mount' : s.changed ? 'remount' : '';
      } else if (a.state === 'absent' || a.state === 'absent_from_fstab') {
        const s = unsetMount(before, want.name);
        after = s.content;
        write = s.changed;
        if (a.state === 'absent') {
          if (mounted) action = 'umount';
          rmdir = true;
        }
      } else if (a.state === 'unmounted') {
        if (mounted) action = 'umount';
      } else if (a.state === 'remounted') {
        action = 'remount';
      } else if (a.state === 'ephemeral') {
        if (!mounted) action = 'ephemeral';
      }
      const changed = write || action !== '';
      const res: TaskResult = { ...base, changed };
      if (ctx.diff && write) res.diff = { before_header: a.fstab, after_header: a.fstab, before, after };
      if ((!changed && !rmdir) || ctx.check) return res;
      return {
        script: buildScript(
          false,
          {
            fstab: a.fstab,
            path: a.path,
            src: a.src ?? '',
            fstype: a.fstype ?? '',
            opts,
            write: write ? '1' : '',
            backup: a.backup ? '1' : '',
            action,
            rmdir: rmdir ? '1' : '',
            mode: report.flag('content_exists') ? '' : '644',
            owner: '',
            mkdirs: '',
          },
          APPLY,
        ),
        stdin: after,
        parse(w: RunResult): TaskResult {
          const ans = readAnswer(w, 'mount');
          if (ans.failure) return { ...base, ...ans.failure };
          const bk = ans.report.get('backup_file');
          return bk ? { ...res, backup_file: bk } : res;
        },
      };
    },
  };
}

export const mount: Module<MountArgs> = {
  names: ['mount', 'ansible.posix.mount', 'ansible.builtin.mount'],
  check: 'full',
  diff: true,
  args: {
    options: {
      path: { type: 'path', required: true, aliases: ['name'] },
      src: { type: 'path' },
      fstype: { type: 'str' },
      opts: { type: 'str' },
      dump: { type: 'str', default: '0' },
      passno: { type: 'str', default: '0' },
      state: {
        type: 'str',
        required: true,
        choices: ['absent', 'absent_from_fstab', 'mounted', 'present', 'unmounted', 'remounted', 'ephemeral'],
      },
      fstab: { type: 'str', default: '/etc/fstab' },
      boot: { type: 'bool', default: true },
      backup: { type: 'bool', default: false },
    },
  },
  plan: planMount,
};
