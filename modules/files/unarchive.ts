/**
 * unarchive: extract with the target's own tar/unzip into a scratch directory, compare
 * every member with dest (type, link target, sha1), and copy into dest only when something
 * differs, so a second run is `ok` and check mode reports without touching dest.
 * A controller archive travels on stdin (also in check mode: the comparison needs it).
 */
import { quote } from '../../src/shell/quote.js';
import { parseReport } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import { parseStat } from '../sh/stat.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { basename, failureFrom, fileAttrs, fileCommonArgs, isResult, statResult } from './common.js';

export interface UnarchiveArgs {
  src: string;
  dest: string;
  remote_src: boolean;
  creates?: string;
  list_files: boolean;
  extra_opts: string[];
  exclude: string[];
  include: string[];
  keep_newer: boolean;
  mode?: unknown;
  owner?: string;
  group?: string;
}

const UNARCHIVE_BODY = String.raw`
if [ -n "$creates" ] && { [ -e "$creates" ] || [ -L "$creates" ]; }; then dr_out skipped 1; exit 0; fi
[ -d "$dest" ] || dr_fail "Destination '$dest' is not a directory"
work=$(mktemp -d "$DR_TMP/.drover-unarchive.XXXXXX") || dr_fail "cannot create a scratch directory in $DR_TMP"
trap 'rm -rf "$work"' EXIT
if [ "$upload" = 1 ]; then archive="$work/archive"; cat > "$archive" || dr_fail "failed to receive $name"
else archive=$src; [ -f "$archive" ] || dr_fail "Source '$src' does not exist"; fi
mkdir "$work/x"
dr_need() { command -v "$1" >/dev/null 2>&1 || dr_fail "Failed to find handler for \"$src\". Make sure the required command to extract the file is installed: $1"; }
case $name in
  *.zip|*.ZIP|*.jar|*.war) dr_need unzip; dr_err=$(unzip -q -o "$archive" -d "$work/x" "$@" 2>&1) ;;
  *.tar.gz|*.tgz) dr_need tar; dr_err=$(tar -xzf "$archive" -C "$work/x" "$@" 2>&1) ;;
  *.tar.xz|*.txz) dr_need tar; dr_err=$(tar -xJf "$archive" -C "$work/x" "$@" 2>&1) ;;
  *.tar.bz2|*.tbz2|*.tbz) dr_need tar; dr_err=$(tar -xjf "$archive" -C "$work/x" "$@" 2>&1) ;;
  *.tar.zst) dr_need tar; dr_err=$(tar --zstd -xf "$archive" -C "$work/x" "$@" 2>&1) ;;
  *) dr_need tar; dr_err=$(tar -xf "$archive" -C "$work/x" "$@" 2>&1) || { command -v unzip >/dev/null 2>&1 && dr_err=$(unzip -q -o "$archive" -d "$work/x" "$@" 2>&1); } ;;
esac
[ $? = 0 ] || dr_fail "Failed to extract $src: $dr_err"
: > "$work/diff"
(cd "$work/x" && find . ! -name . | sort) > "$work/list"
while IFS= read -r rel; do
  rel=${'$'}{rel#./}
  a="$work/x/$rel"; b="$dest/$rel"
  [ "$list" = 1 ] && dr_out64 file "$rel"
  if [ -L "$a" ]; then
    ft=L; { [ -L "$b" ] && [ "$(readlink "$a")" = "$(readlink "$b")" ]; } || echo "$rel" >> "$work/diff"
  elif [ -d "$a" ]; then
    ft=d; [ -d "$b" ] || echo "$rel" >> "$work/diff"
  else
    ft=f; { [ -f "$b" ] && [ ! -L "$b" ] && [ "$(dr_sha1 "$a")" = "$(dr_sha1 "$b")" ]; } || echo "$rel" >> "$work/diff"
  fi
  # Ansible's zip handler itemizes members like rsync: '>' a new one, 'c' one of another type
  if [ "$itemize" = 1 ]; then
    slash=; [ "$ft" = d ] && slash=/
    if [ ! -e "$b" ] && [ ! -L "$b" ]; then printf '>%s++++++.?? %s%s\n' "$ft" "$rel" "$slash" >> "$work/items"
    elif { [ "$ft" = d ] && [ ! -d "$b" ]; } || { [ "$ft" = L ] && [ ! -L "$b" ]; } || { [ "$ft" = f ] && { [ -L "$b" ] || [ ! -f "$b" ]; }; }; then
      printf 'c%s++++++.?? %s%s\n' "$ft" "$rel" "$slash" >> "$work/items"
    fi
  fi
done < "$work/list"
[ -s "$work/items" ] && dr_outfile items "$work/items"
if [ -s "$work/diff" ]; then
  DR_CHANGED=1
  if [ "$CHECK" != 1 ]; then dr_err=$(cp -RPp "$work/x/." "$dest/" 2>&1) || dr_fail "failed to unpack into $dest: $dr_err"; fi
fi
if [ "$CHECK" != 1 ] && { [ -n "$owner" ] || [ -n "$group" ] || [ -n "$mode" ]; }; then
  while IFS= read -r rel; do
    rel=${'$'}{rel#./}
    [ -L "$dest/$rel" ] || dr_attrs "$dest/$rel" "$owner" "$group" "$mode"
  done < "$work/list"
fi
dr_out changed "$DR_CHANGED"
dr_stat dest. "$dest"
`;

async function planUnarchive(args: UnarchiveArgs, ctx: PlanContext): Promise<Step | TaskResult> {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>);
  if (isResult(attrs)) return attrs;
  if (/^[a-z]+:\/\//i.test(args.src) && args.remote_src) {
    return {
      failed: true,
      msg: `unarchive: downloading ${args.src} is not supported by drover; fetch it with get_url first`,
    };
  }
  let stdin: Buffer | undefined;
  if (!args.remote_src) {
    const found = ctx.files.find('files', args.src);
    if (found === undefined)
      return { failed: true, msg: `Could not find or access '${args.src}' on the Ansible Controller.` };
    try {
      stdin = await ctx.files.read(found);
    } catch (e) {
      return { failed: true, msg: `could not read ${found}: ${(e as Error).message}` };
    }
  }
  const opts = [...args.extra_opts];
  const name = basename(args.src);
  const tarName = !/\.(zip|jar|war)$/i.test(name);
  for (const x of args.exclude) opts.push(tarName ? `--exclude=${x}` : '-x', ...(tarName ? [] : [x]));
  if (args.keep_newer && tarName) opts.push('--keep-newer-files');
  const step: Step = {
    script: shScript({
      check: ctx.check,
      tmp: ctx.remoteTmp,
      vars: {
        src: shPath(args.src),
        name,
        upload: stdin !== undefined,
        dest: shPath(args.dest),
        creates: args.creates,
        list: args.list_files,
        itemize: ctx.diff && !tarName,
        owner: attrs.owner,
        group: attrs.group,
        mode: attrs.mode,
      },
      tilde: ['src', 'dest', 'creates'],
      body: `set -- ${opts.map(quote).join(' ')}${args.include.length > 0 ? ` ${args.include.map(quote).join(' ')}` : ''}\n${UNARCHIVE_BODY}`,
    }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('unarchive', r, report);
      if (failed) return failed;
      if (report.flag('skipped')) {
        return {
          changed: false,
          skipped: true,
          msg: `skipped, since ${args.creates} exists`,
          dest: args.dest,
          src: args.src,
        };
      }
      const res: TaskResult = {
        changed: report.flag('changed'),
        dest: args.dest,
        src: args.src,
        ...statResult(parseStat(report, 'dest.')),
      };
      if (args.list_files) res.files = report.all('file');
      // Only the zip handler of Ansible reports a diff (its rsync-like itemized list); members
      // that exist with the same type but other content or attributes are not itemized here.
      if (report.has('items'))
        res.diff = { prepared: (report.bytes('items')?.toString('utf8') ?? '').replace(/\n$/, '') };
      return res;
    },
  };
  if (stdin !== undefined) step.stdin = stdin;
  return step;
}

export const unarchiveModule: Module<UnarchiveArgs> = {
  names: ['unarchive', 'ansible.builtin.unarchive', 'ansible.legacy.unarchive'],
  check: 'full',
  args: {
    options: {
      src: { type: 'path', required: true },
      dest: { type: 'path', required: true },
      remote_src: { type: 'bool', default: false },
      creates: { type: 'path' },
      list_files: { type: 'bool', default: false },
      extra_opts: { type: 'list', elements: 'str', default: [] },
      exclude: { type: 'list', elements: 'str', default: [] },
      include: { type: 'list', elements: 'str', default: [] },
      keep_newer: { type: 'bool', default: false },
      io_buffer_size: { type: 'int', default: 65536 },
      validate_certs: { type: 'bool', default: true },
      decrypt: { type: 'bool', default: true },
      ...fileCommonArgs,
    },
    mutuallyExclusive: [['include', 'exclude']],
  },
  plan: planUnarchive,
};
