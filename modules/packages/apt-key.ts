/**
 * apt_key: add or remove a repository signing key in one round trip. Key material comes
 * from `data` (sent on stdin), `file` or `url` on the target (curl/wget) or a keyserver.
 * With apt-key present (Debian <= 12) it is used as Ansible does; without it, or with
 * `keyring`, the key is written (dearmored when gpg is there) to the keyring file.
 */
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface AptKeyArgs {
  id?: string;
  url?: string;
  data?: string;
  file?: string;
  keyring?: string;
  keyserver?: string;
  state: 'absent' | 'present';
  validate_certs: boolean;
}

const BODY = `short=$(printf '%s' "$id" | tr a-f A-F | sed 's/^0X//')
short=\${short#"\${short%????????}"}
listed() {
  if [ -n "$keyring" ]; then
    [ -f "$keyring" ] || return 1
    [ -n "$short" ] || return 0
    gpg --no-default-keyring --keyring "$keyring" --list-keys --with-colons 2>/dev/null | grep -q "$short"
  elif d_has apt-key; then
    [ -n "$short" ] || return 1
    apt-key adv --list-public-keys --with-colons 2>/dev/null | grep -q "$short" || apt-key list 2>/dev/null | tr -d ' ' | grep -qi "$short"
  else return 1; fi
}
if [ "$state" = absent ]; then
  [ -n "$id" ] || d_fail "key_id is required for state=absent"
  if listed; then
    d_changed
    if [ -n "$keyring" ] && ! d_has apt-key; then d_run "error removing key_id $id" rm -f "$keyring"
    elif [ -n "$keyring" ]; then d_run "error removing key_id $id" apt-key --keyring "$keyring" del "$short"
    else d_run "error removing key_id $id" apt-key del "$short"; fi
  fi
  exit 0
fi
listed && exit 0
d_changed
[ -n "$CHECK" ] && exit 0
k=$(mktemp "$DR_TMP/.drover-key.XXXXXX") || d_fail "Failed to create a temporary file"
trap 'rm -f "$k"' EXIT
if [ -n "$has_data" ]; then cat > "$k"
elif [ -n "$file" ]; then cp "$file" "$k" 2>/dev/null || d_fail "Could not read key file $file"
elif [ -n "$url" ]; then
  if d_has curl; then o=$(curl -fsSL $insecure -o "$k" "$url" 2>&1) || d_fail "Failed to download key at $url: $o"
  elif d_has wget; then o=$(wget -q $wget_insecure -O "$k" "$url" 2>&1) || d_fail "Failed to download key at $url: $o"
  else d_fail "Failed to download key at $url: neither curl nor wget is installed"; fi
elif [ -n "$keyserver" ]; then
  if [ -n "$keyring" ]; then d_run "error fetching key $id from keyserver $keyserver" gpg --no-default-keyring --keyring "$keyring" --keyserver "$keyserver" --recv "$id"
  else d_run "error fetching key $id from keyserver $keyserver" apt-key adv --no-tty --keyserver "$keyserver" --recv "$id"; fi
  exit 0
else d_fail "one of data, file, url or keyserver is required with state=present"; fi
if [ -n "$keyring" ] || ! d_has apt-key; then
  dest=\${keyring:-/etc/apt/trusted.gpg.d/drover-\${short:-key}.gpg}
  mkdir -p "$(dirname "$dest")"
  if grep -q 'BEGIN PGP' "$k" && d_has gpg; then gpg --dearmor < "$k" > "$dest.tmp" 2>/dev/null || d_fail "error adding key: gpg --dearmor failed"
  else cp "$k" "$dest.tmp"; fi
  chmod 644 "$dest.tmp" && mv -f "$dest.tmp" "$dest" || d_fail "error adding key to $dest"
  d_emit keyring "$dest"
else
  d_run "error adding key" apt-key add "$k"
fi
exit 0`;

export function planAptKey(a: AptKeyArgs, ctx: PlanContext): Step | TaskResult {
  const script = buildScript(
    ctx.check,
    {
      id: a.id ?? '',
      url: a.url ?? '',
      file: a.file ?? '',
      keyring: a.keyring ?? '',
      keyserver: a.keyserver ?? '',
      state: a.state,
      has_data: a.data !== undefined ? '1' : '',
      insecure: a.validate_certs ? '' : '-k',
      wget_insecure: a.validate_certs ? '' : '--no-check-certificate',
    },
    BODY,
    ctx.remoteTmp,
  );
  const step: Step = {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'apt_key');
      if (failure) return failure;
      const res: TaskResult = { changed: report.flag('changed') };
      if (a.id !== undefined) res.key_id = a.id;
      const kr = report.get('keyring');
      if (kr !== undefined) res.keyring = kr;
      return res;
    },
  };
  if (a.data !== undefined && !ctx.check) step.stdin = a.data;
  return step;
}

export const aptKey: Module<AptKeyArgs> = {
  names: ['apt_key', 'ansible.builtin.apt_key'],
  check: 'full',
  args: {
    options: {
      id: { type: 'str' },
      url: { type: 'str' },
      data: { type: 'str' },
      file: { type: 'path' },
      keyring: { type: 'path' },
      validate_certs: { type: 'bool', default: true },
      keyserver: { type: 'str' },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
    },
    mutuallyExclusive: [['data', 'file', 'keyserver', 'url']],
  },
  plan: planAptKey,
};
