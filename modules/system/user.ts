/**
 * user: create, modify or remove an account with useradd/usermod/userdel (busybox
 * adduser/deluser/addgroup/chpasswd where shadow-utils are missing), optionally generating
 * an ssh key. The script reads passwd/shadow/group, compares every requested field and runs
 * one usermod with only the differences, so a rerun is ok. One round trip.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { GROUP_LOOKUP } from './group.js';
import { buildScript, lines, readAnswer } from './remote-sh.js';

export interface UserArgs {
  name: string;
  uid?: number;
  comment?: string;
  non_unique: boolean;
  group?: string;
  groups?: string[];
  append: boolean;
  shell?: string;
  home?: string;
  skeleton?: string;
  password?: string;
  state: 'present' | 'absent';
  create_home: boolean;
  move_home: boolean;
  system: boolean;
  force: boolean;
  remove: boolean;
  generate_ssh_key: boolean;
  ssh_key_bits: number;
  ssh_key_type: string;
  ssh_key_file?: string;
  ssh_key_comment?: string;
  ssh_key_passphrase?: string;
  update_password: 'always' | 'on_create';
  password_lock?: boolean;
  expires?: number;
  local: boolean;
  umask?: string;
}

const BODY = `${GROUP_LOOKUP}
d_user() { u_line=$(getent passwd "$1" 2>/dev/null) || u_line=$(U="$1" awk -F: '$1==ENVIRON["U"]{print; exit}' /etc/passwd 2>/dev/null); }
d_field() { printf '%s' "$u_line" | cut -d: -f"$1"; }
# Supplementary groups that list the user (primary group excluded, as Ansible does).
d_member_of() { { getent group 2>/dev/null || cat /etc/group; } | U="$1" P="$2" awk -F: '$3!=ENVIRON["P"]{n=split($4,m,",");for(i=1;i<=n;i++)if(m[i]==ENVIRON["U"]){print $1;break}}' | sort -u; }
d_user "$name"
if [ "$state" = absent ]; then
  if [ -n "$u_line" ]; then
    d_changed
    if d_has userdel; then
      set -- userdel
      [ -n "$force" ] && set -- "$@" -f
      [ -n "$remove" ] && set -- "$@" -r
      d_run "userdel failed" "$@" "$name"
    else
      if [ -n "$remove" ]; then d_run "deluser failed" deluser --remove-home "$name"; else d_run "deluser failed" deluser "$name"; fi
    fi
  fi
  exit 0
fi
# Resolve the primary group and the supplementary groups; all must exist.
gid=
if [ -n "$group" ]; then
  d_group "$group"
  [ -n "$g_line" ] || d_fail "Group $group does not exist"
  gid=$(printf '%s' "$g_line" | cut -d: -f3)
fi
want_groups=
if [ -n "$groups_set" ]; then
  want_groups=$(printf '%s\\n' "$groups" | while IFS= read -r g; do [ -n "$g" ] || continue; d_group "$g"; [ -n "$g_line" ] || { echo "__missing__ $g"; continue; }; printf '%s\\n' "$(printf '%s' "$g_line" | cut -d: -f1)"; done | sort -u)
  case "$want_groups" in *__missing__*) m=$(printf '%s\\n' "$want_groups" | sed -n 's/^__missing__ //p' | head -n 1); d_fail "Group $m does not exist";; esac
fi
joined=$(printf '%s\\n' "$want_groups" | sed '/^$/d' | tr '\\n' , | sed 's/,$//')
if [ -z "$u_line" ]; then
  d_changed
  d_set created 1
  if d_has useradd; then
    set -- useradd
    [ -n "$uid" ] && set -- "$@" -u "$uid"
    [ -n "$uid" ] && [ -n "$non_unique" ] && set -- "$@" -o
    [ -n "$group" ] && set -- "$@" -g "$group"
    [ -n "$joined" ] && set -- "$@" -G "$joined"
    [ -n "$comment_set" ] && set -- "$@" -c "$comment"
    [ -n "$home" ] && set -- "$@" -d "$home"
    [ -n "$shell" ] && set -- "$@" -s "$shell"
    [ -n "$password" ] && set -- "$@" -p "$password"
    [ -n "$expires" ] && set -- "$@" -e "$expires"
    [ -n "$system" ] && set -- "$@" -r
    if [ -n "$create_home" ]; then
      set -- "$@" -m
      [ -n "$skeleton" ] && set -- "$@" -k "$skeleton"
    else set -- "$@" -M; fi
    [ -n "$umask" ] && set -- "$@" -K UMASK="$umask"
    d_run "useradd failed" "$@" "$name"
  else
    set -- adduser -D
    [ -n "$uid" ] && set -- "$@" -u "$uid"
    [ -n "$group" ] && set -- "$@" -G "$group"
    [ -n "$comment_set" ] && set -- "$@" -g "$comment"
    [ -n "$home" ] && set -- "$@" -h "$home"
    [ -n "$shell" ] && set -- "$@" -s "$shell"
    [ -n "$system" ] && set -- "$@" -S
    [ -z "$create_home" ] && set -- "$@" -H
    d_run "adduser failed" "$@" "$name"
    if [ -z "$CHECK" ]; then
      printf '%s\\n' "$want_groups" | while IFS= read -r g; do [ -n "$g" ] && addgroup "$name" "$g" >&2; done
      [ -n "$password" ] && { printf '%s:%s\\n' "$name" "$password" | chpasswd -e >&2 || d_fail "chpasswd failed"; }
    fi
  fi
else
  set -- usermod
  cur_uid=$(d_field 3); cur_gid=$(d_field 4); cur_comment=$(d_field 5); cur_home=$(d_field 6); cur_shell=$(d_field 7)
  [ -n "$uid" ] && [ "$uid" != "$cur_uid" ] && { set -- "$@" -u "$uid"; [ -n "$non_unique" ] && set -- "$@" -o; }
  [ -n "$gid" ] && [ "$gid" != "$cur_gid" ] && set -- "$@" -g "$group"
  [ -n "$comment_set" ] && [ "$comment" != "$cur_comment" ] && set -- "$@" -c "$comment"
  if [ -n "$home" ] && [ "$home" != "$cur_home" ]; then
    set -- "$@" -d "$home"
    [ -n "$move_home" ] && set -- "$@" -m
  fi
  [ -n "$shell" ] && [ "$shell" != "$cur_shell" ] && set -- "$@" -s "$shell"
  if [ -n "$groups_set" ]; then
    have=$(d_member_of "$name" "$cur_gid")
    want=$(printf '%s\\n' "$want_groups" | sed '/^$/d')
    if [ -n "$append" ]; then
      missing=$(printf '%s\\n' "$want" | while IFS= read -r g; do [ -n "$g" ] || continue; printf '%s\\n' "$have" | grep -Fxq -- "$g" || printf '%s\\n' "$g"; done)
      [ -n "$missing" ] && set -- "$@" -a -G "$joined"
    elif [ "$have" != "$want" ]; then
      set -- "$@" -G "$joined"
    fi
  fi
  if [ -n "$password" ] && [ "$update_password" = always ]; then
    cur_pw=$( { getent shadow "$name" 2>/dev/null || U="$name" awk -F: '$1==ENVIRON["U"]{print; exit}' /etc/shadow 2>/dev/null; } | cut -d: -f2)
    [ "$cur_pw" != "$password" ] && set -- "$@" -p "$password"
  fi
  if [ -n "$password_lock" ]; then
    cur_pw=$( { getent shadow "$name" 2>/dev/null || U="$name" awk -F: '$1==ENVIRON["U"]{print; exit}' /etc/shadow 2>/dev/null; } | cut -d: -f2)
    case "$cur_pw" in '!'*) locked=1;; *) locked=;; esac
    [ "$password_lock" = yes ] && [ -z "$locked" ] && set -- "$@" -L
    [ "$password_lock" = no ] && [ -n "$locked" ] && set -- "$@" -U
  fi
  if [ "$#" -gt 1 ]; then
    d_changed
    if d_has usermod; then d_run "usermod failed" "$@" "$name"
    elif [ -z "$CHECK" ]; then
      # busybox has no usermod: supplementary groups and the password are what it can change.
      printf '%s\\n' "$want_groups" | while IFS= read -r g; do [ -n "$g" ] && addgroup "$name" "$g" >&2; done
      [ -n "$password" ] && { printf '%s:%s\\n' "$name" "$password" | chpasswd -e >&2 || d_fail "chpasswd failed"; }
    fi
  fi
fi
d_user "$name"
if [ -n "$u_line" ]; then
  d_set uid "$(d_field 3)"; d_set group "$(d_field 4)"
  d_emit comment "$(d_field 5)"; d_emit home "$(d_field 6)"; d_emit shell "$(d_field 7)"
  cur_home=$(d_field 6)
  if [ -n "$gen_key" ]; then
    case "$key_file" in /*) kf=$key_file;; *) kf=$cur_home/$key_file;; esac
    d_emit ssh_key_file "$kf"
    if [ ! -e "$kf" ]; then
      d_changed
      if [ -z "$CHECK" ]; then
        kd=$(dirname "$kf")
        if [ ! -d "$kd" ]; then mkdir -p "$kd" && chmod 700 "$kd" && chown "$name:$(d_field 4)" "$kd" || d_fail "Failed to create $kd"; fi
        set -- ssh-keygen -q -t "$key_type" -f "$kf" -N "$key_pass" -C "$key_comment"
        [ "$key_bits" != 0 ] && set -- "$@" -b "$key_bits"
        d_run "Failed to generate ssh key" "$@"
        chown "$name:$(d_field 4)" "$kf" "$kf.pub" >&2
      fi
    fi
    if [ -f "$kf.pub" ]; then
      d_emit ssh_public_key "$(cat "$kf.pub")"
      d_emit ssh_fingerprint "$(ssh-keygen -l -f "$kf.pub" 2>/dev/null)"
    fi
  fi
fi
exit 0`;

export function planUser(a: UserArgs, ctx: PlanContext): Step {
  const keyFile = a.ssh_key_file ?? `.ssh/id_${a.ssh_key_type}`;
  const hostname = typeof ctx.facts.ansible_hostname === 'string' ? ctx.facts.ansible_hostname : ctx.host;
  const script = buildScript(
    ctx.check,
    {
      name: a.name,
      state: a.state,
      uid: a.uid,
      non_unique: a.non_unique ? '1' : '',
      group: a.group ?? '',
      groups_set: a.groups !== undefined ? '1' : '',
      groups: lines(a.groups ?? []),
      append: a.append ? '1' : '',
      comment_set: a.comment !== undefined ? '1' : '',
      comment: a.comment ?? '',
      home: a.home ?? '',
      move_home: a.move_home ? '1' : '',
      shell: a.shell ?? '',
      skeleton: a.skeleton ?? '',
      password: a.password ?? '',
      update_password: a.update_password,
      password_lock: a.password_lock === undefined ? '' : a.password_lock ? 'yes' : 'no',
      expires: a.expires === undefined ? '' : formatExpires(a.expires),
      system: a.system ? '1' : '',
      create_home: a.create_home ? '1' : '',
      force: a.force ? '1' : '',
      remove: a.remove ? '1' : '',
      umask: a.umask ?? '',
      gen_key: a.generate_ssh_key && a.state === 'present' ? '1' : '',
      key_file: keyFile,
      key_type: a.ssh_key_type,
      key_bits: a.ssh_key_bits,
      key_pass: a.ssh_key_passphrase ?? '',
      key_comment: a.ssh_key_comment ?? `ansible-generated on ${hostname}`,
    },
    BODY,
  );
  return {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'user');
      if (failure) return { ...failure, name: a.name };
      const changed = report.flag('changed');
      const res: TaskResult = { changed, name: a.name, state: a.state };
      if (a.state === 'absent') {
        res.force = a.force;
        res.remove = a.remove;
        return res;
      }
      const uid = report.int('uid') ?? a.uid;
      if (uid !== undefined) res.uid = uid;
      const gid = report.int('group');
      if (gid !== undefined) res.group = gid;
      for (const k of ['comment', 'home', 'shell'] as const) {
        const v = report.get(k) ?? a[k];
        if (v !== undefined) res[k] = v;
      }
      if (report.flag('created')) {
        res.system = a.system;
        res.create_home = a.create_home;
      } else {
        res.append = a.append;
        res.move_home = a.move_home;
      }
      if (a.groups !== undefined) res.groups = a.groups.join(',');
      if (a.password !== undefined) res.password = 'NOT_LOGGING_PASSWORD';
      if (a.generate_ssh_key) {
        const kf = report.get('ssh_key_file');
        if (kf !== undefined) res.ssh_key_file = kf;
        const pub = report.get('ssh_public_key');
        if (pub !== undefined) res.ssh_public_key = pub;
        const fp = report.get('ssh_fingerprint');
        if (fp !== undefined) res.ssh_fingerprint = fp;
      }
      return res;
    },
  };
}

/** expires is epoch seconds; useradd -e wants YYYY-MM-DD (-1 or below clears it). */
function formatExpires(e: number): string {
  if (e < 0) return '';
  return new Date(e * 1000).toISOString().slice(0, 10);
}

export const user: Module<UserArgs> = {
  names: ['user', 'ansible.builtin.user'],
  check: 'full',
  args: {
    options: {
      name: { type: 'str', required: true, aliases: ['user'] },
      uid: { type: 'int' },
      comment: { type: 'str' },
      hidden: { type: 'bool' },
      non_unique: { type: 'bool', default: false },
      seuser: { type: 'str' },
      group: { type: 'str' },
      groups: { type: 'list', elements: 'str' },
      append: { type: 'bool', default: false },
      shell: { type: 'str' },
      home: { type: 'path' },
      skeleton: { type: 'str' },
      password: { type: 'str', noLog: true },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
      create_home: { type: 'bool', default: true, aliases: ['createhome'] },
      move_home: { type: 'bool', default: false },
      system: { type: 'bool', default: false },
      force: { type: 'bool', default: false },
      remove: { type: 'bool', default: false },
      login_class: { type: 'str' },
      generate_ssh_key: { type: 'bool', default: false },
      ssh_key_bits: { type: 'int', default: 0 },
      ssh_key_type: { type: 'str', default: 'rsa' },
      ssh_key_file: { type: 'path' },
      ssh_key_comment: { type: 'str' },
      ssh_key_passphrase: { type: 'str', noLog: true },
      update_password: { type: 'str', default: 'always', choices: ['always', 'on_create'] },
      password_lock: { type: 'bool' },
      expires: { type: 'float' },
      local: { type: 'bool', default: false },
      profile: { type: 'str' },
      authorization: { type: 'str' },
      role: { type: 'str' },
      umask: { type: 'str' },
      password_expire_max: { type: 'int' },
      password_expire_min: { type: 'int' },
    },
  },
  plan: planUser,
};
