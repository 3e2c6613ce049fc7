/**
 * copy: content, a controller file, a controller directory tree, or a file/tree already on
 * the target (remote_src). Single files go through the atomic writer (put.ts); trees are
 * one script that walks a list of entries with the file contents on stdin, one base64 line
 * per file, so a whole tree still costs one round trip.
 */
import { quote } from '../../src/shell/quote.js';
import { parseReport, type Report } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import { parseStat } from '../sh/stat.js';
import type { FileDiff, Module, PlanContext, Step, TaskResult } from '../types.js';
import { basename, failureFrom, fileAttrs, fileCommonArgs, isResult, statResult } from './common.js';
import { md5, type PutOptions, putStep, sha1 } from './put.js';

export interface CopyArgs {
  src?: string;
  content?: unknown;
  dest: string;
  backup: boolean;
  force: boolean;
  validate?: string;
  directory_mode?: unknown;
  remote_src?: boolean;
  local_follow: boolean;
  checksum?: string;
  follow: boolean;
  decrypt: boolean;
  mode?: unknown;
  owner?: string;
  group?: string;
}

const TREE_BODY = String.raw`
dr_tree_dir() {
  dr_p="$root/$1"
  if [ ! -d "$dr_p" ]; then
    DR_CHANGED=1
    if [ "$CHECK" != 1 ]; then dr_err=$(mkdir -p "$dr_p" 2>&1) || dr_fail "Error creating $dr_p: $dr_err"; fi
  fi
  if [ -d "$dr_p" ]; then dr_attrs "$dr_p" "$owner" "$group" "$dir_mode"; fi
}
dr_tree_file() {
  dr_p="$root/$1"
  dr_line=
  if [ "$CHECK" != 1 ]; then IFS= read -r dr_line; fi
  dr_cur=
  if [ -f "$dr_p" ] && [ ! -L "$dr_p" ]; then dr_cur=$(dr_sha1 "$dr_p"); fi
  if [ "$dr_cur" != "$2" ]; then
    if [ -e "$dr_p" ] && [ "$force" != 1 ]; then return 0; fi
    DR_CHANGED=1
    dr_out64 changed_file "$1"
    if [ "$CHECK" != 1 ]; then
      dr_d=$(dr_dirname "$dr_p")
      [ -d "$dr_d" ] || mkdir -p "$dr_d" || dr_fail "Error creating $dr_d"
      tmp=$(mktemp "$dr_d/.drover-tmp.XXXXXX") || dr_fail "Destination $dr_d not writable"
      trap 'rm -f "$tmp"' EXIT
      printf '%s' "$dr_line" | base64 -d > "$tmp" || dr_fail "failed to write $dr_p"
      [ "$(dr_sha1 "$tmp")" = "$2" ] || dr_fail "Copied file does not match the expected checksum. Transfer failed: $dr_p"
      if [ -f "$dr_p" ]; then chmod "$(stat -c %a "$dr_p")" "$tmp"; else chmod "$(printf %o "$((0666 & ~0$(umask)))")" "$tmp"; fi
      if [ -L "$dr_p" ]; then rm -f "$dr_p"; fi
      dr_err=$(mv -f "$tmp" "$dr_p" 2>&1) || dr_fail "failed to copy to $dr_p: $dr_err"
      trap - EXIT
    fi
  fi
  if [ -e "$dr_p" ]; then dr_attrs "$dr_p" "$owner" "$group" "${'$'}{3:-$mode}"; fi
}
dr_tree_link() {
  dr_p="$root/$1"
  if [ -L "$dr_p" ] && [ "$(readlink "$dr_p")" = "$2" ]; then return 0; fi
  DR_CHANGED=1
  dr_out64 changed_file "$1"
  if [ "$CHECK" != 1 ]; then rm -f "$dr_p"; ln -s "$2" "$dr_p" || dr_fail "Error creating link $dr_p"; fi
}
`;

const REMOTE_TREE_BODY = String.raw`
[ -d "$src" ] || dr_fail "Source $src not found"
dr_list() { (cd "$1" && find . -type f -exec sha1sum {} + 2>/dev/null | sort -k 2; find . -type d | sort) ; }
if [ "$(dr_list "$src")" != "$( [ -d "$root" ] && dr_list "$root")" ]; then
  DR_CHANGED=1
  if [ "$CHECK" != 1 ]; then
    mkdir -p "$root" || dr_fail "Error creating $root"
    dr_err=$(cp -RPp "$src/." "$root/" 2>&1) || dr_fail "failed to copy $src to $root: $dr_err"
  fi
fi
if [ -d "$root" ] && [ -n "$owner" ] && [ -n "$(find "$root" ! -user "$owner" 2>/dev/null | head -n 1)" ]; then
  DR_CHANGED=1; [ "$CHECK" = 1 ] || chown -R "$owner" "$root" || dr_fail "chown failed on $root"
fi
if [ -d "$root" ] && [ -n "$group" ] && [ -n "$(find "$root" ! -group "$group" 2>/dev/null | head -n 1)" ]; then
  DR_CHANGED=1; [ "$CHECK" = 1 ] || chgrp -R "$group" "$root" || dr_fail "chgrp failed on $root"
fi
dr_out changed "$DR_CHANGED"
dr_stat dest. "$root"
`;

function copyContent(args: CopyArgs): Buffer | undefined {
  const c = args.content;
  if (c === undefined || c === null) return undefined;
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  // Ansible's action plugin serializes dicts and lists to JSON.
  return Buffer.from(JSON.stringify(c), 'utf8');
}

function errnoOf(e: unknown): string | undefined {
  return e !== null && typeof e === 'object' && 'code' in e && typeof e.code === 'string'
    ? e.code
    : undefined;
}

async function planCopy(args: CopyArgs, ctx: PlanContext): Promise<Step | TaskResult> {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>, { allowPreserve: true });
  if (isResult(attrs)) return attrs;
  const dirMode = fileAttrs({ mode: args.directory_mode });
  if (isResult(dirMode)) return { failed: true, msg: `directory_mode: ${dirMode.msg}` };
  const common: Omit<PutOptions, 'content'> = {
    module: 'copy',
    dest: args.dest,
    owner: attrs.owner,
    group: attrs.group,
    mode: attrs.mode === 'preserve' ? undefined : attrs.mode,
    backup: args.backup,
    force: args.force,
    follow: args.follow,
    directoryMode: dirMode.mode,
  };
  if (args.validate !== undefined && !args.validate.includes('%s')) {
    return { failed: true, msg: `validate must contain %s: ${args.validate}` };
  }
  if (args.validate) common.validate = args.validate;

  const content = copyContent(args);
  if (content !== undefined) {
    if (args.dest.endsWith('/')) return { failed: true, msg: 'can not use content with a dir as dest' };
    const sum = sha1(content);
    return putStep({ ...common, content }, ctx, (res, report) => ({
      ...ansibleDiffHeaders(res, report),
      src: 'dynamically generated',
      checksum: sum,
      md5sum: md5(content),
    }));
  }
  if (args.src === undefined) return { failed: true, msg: 'src (or content) is required' };

  if (args.remote_src) return planRemoteCopy(args, common, ctx);

  const found = ctx.files.find('files', args.src);
  if (found === undefined) {
    return {
      failed: true,
      msg: `Could not find or access '${args.src}' on the Ansible Controller. If you are using a module and expect the file to exist on the remote, see the remote_src option`,
    };
  }
  let data: Buffer | undefined;
  if (!args.src.endsWith('/')) {
    try {
      data = await ctx.files.read(found);
    } catch (e) {
      if (errnoOf(e) !== 'EISDIR')
        return { failed: true, msg: `could not read ${found}: ${(e as Error).message}` };
    }
  }
  if (data !== undefined) {
    let mode = common.mode;
    if (attrs.mode === 'preserve') {
      const dir = found.slice(0, Math.max(found.lastIndexOf('/'), 0)) || '.';
      const entry = (await ctx.files.walk(dir)).find((e) => e.path === basename(found));
      if (entry) mode = (entry.mode & 0o7777).toString(8).padStart(4, '0');
    }
    const sum = sha1(data);
    if (args.checksum !== undefined && args.checksum !== sum) {
      return {
        failed: true,
        msg: 'Copied file does not match the expected checksum. Transfer failed.',
        checksum: sum,
        expected_checksum: args.checksum,
      };
    }
    const content = data;
    return putStep(
      { ...common, mode, content, srcBase: basename(args.src), srcLabel: found },
      ctx,
      (res, report) => ({
        ...ansibleDiffHeaders(res, report),
        src: found,
        checksum: sum,
        md5sum: md5(content),
      }),
    );
  }
  return planTree(args, common, found, attrs.mode === 'preserve', ctx);
}

async function planTree(
  args: CopyArgs,
  common: Omit<PutOptions, 'content'>,
  found: string,
  preserve: boolean,
  ctx: PlanContext,
): Promise<Step | TaskResult> {
  const entries = await ctx.files.walk(found);
  const base = args.dest.replace(/\/+$/, '') || '/';
  const src = args.src ?? '';
  const root = src.endsWith('/') ? base : `${base}/${basename(src)}`;
  const calls: string[] = ['dr_tree_dir .'];
  const payload: string[] = [];
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of sorted) {
    const full = `${found.replace(/\/+$/, '')}/${e.path}`;
    if (e.type === 'dir') {
      calls.push(`dr_tree_dir ${quote(e.path)}`);
    } else if (e.type === 'link' && !args.local_follow) {
      calls.push(`dr_tree_link ${quote(e.path)} ${quote(e.target ?? '')}`);
    } else {
      let data: Buffer;
      try {
        data = await ctx.files.read(full);
      } catch (err) {
        if (errnoOf(err) === 'EISDIR') {
          calls.push(`dr_tree_dir ${quote(e.path)}`);
          continue;
        }
        if (e.type === 'link' && e.target !== undefined) {
          // a dangling link cannot be followed: copy it as a link
          calls.push(`dr_tree_link ${quote(e.path)} ${quote(e.target)}`);
          continue;
        }
        return { failed: true, msg: `could not read ${full}: ${(err as Error).message}` };
      }
      const mode = preserve ? (e.mode & 0o7777).toString(8).padStart(4, '0') : '';
      calls.push(`dr_tree_file ${quote(e.path)} ${sha1(data)}${mode ? ` ${mode}` : ''}`);
      payload.push(data.toString('base64'));
    }
  }
  const script = shScript({
    check: ctx.check,
    tmp: ctx.remoteTmp,
    vars: {
      root: shPath(root),
      owner: common.owner,
      group: common.group,
      mode: common.mode,
      dir_mode: common.directoryMode,
      force: common.force ?? true,
    },
    tilde: ['root'],
    body: `${TREE_BODY}\n${calls.join('\n')}\ndr_out changed "$DR_CHANGED"\ndr_stat dest. "$root"`,
  });
  const step: Step = {
    script,
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('copy', r, report);
      if (failed) return failed;
      return {
        changed: report.flag('changed'),
        dest: root,
        src: found,
        ...statResult(parseStat(report, 'dest.')),
      };
    },
  };
  if (!ctx.check) step.stdin = payload.length > 0 ? `${payload.join('\n')}\n` : '';
  return step;
}

/**
 * Ansible's copy action names the destination as the diff's before header only when it
 * existed (a new file diffs against an unnamed empty "before").
 */
export function ansibleDiffHeaders(res: TaskResult, report: Report): TaskResult {
  const d = res.diff as FileDiff | undefined;
  if (d && !report.has('before') && !report.has('before_large')) {
    const { before_header: _, ...rest } = d;
    return { ...res, diff: rest };
  }
  return res;
}

function planRemoteCopy(args: CopyArgs, common: Omit<PutOptions, 'content'>, ctx: PlanContext): Step {
  const src = args.src ?? '';
  if (!src.endsWith('/')) {
    // A file, or a directory copied as dest/basename(src): the script decides which.
    // mode=preserve takes the source file's mode, as the copy module does with remote_src.
    const fileStep = (srcMode: string | undefined) =>
      putStep(
        {
          ...common,
          ...(args.mode === 'preserve' && srcMode ? { mode: srcMode.padStart(4, '0') } : {}),
          content: Buffer.alloc(0),
          fromSrc: src,
          srcBase: basename(src),
          srcLabel: src,
        },
        ctx,
        (res, report) => {
          // With remote_src Ansible's copy module runs on the target and returns no diff.
          const { diff: _, ...noDiff } = res;
          const out: TaskResult = { ...noDiff, src };
          const checksum = report.get('checksum');
          if (checksum) out.checksum = checksum;
          const m = report.get('md5sum');
          if (m) out.md5sum = m;
          return out;
        },
      );
    const treeStep = remoteTreeStep(src, `${args.dest.replace(/\/+$/, '')}/${basename(src)}`, common, ctx);
    return {
      script: shScript({
        check: ctx.check,
        vars: { src: shPath(src) },
        tilde: ['src'],
        body: 'dr_out type "$(dr_type "$src")"; [ -f "$src" ] && dr_out mode "$(stat -L -c %a "$src")"',
      }),
      parse(r) {
        const report = parseReport(r.stdout);
        const t = report.get('type');
        if (t === 'absent') return { failed: true, msg: `Source ${src} not found` };
        return t === 'directory' ? treeStep : fileStep(report.get('mode'));
      },
    };
  }
  return remoteTreeStep(src.replace(/\/+$/, ''), args.dest.replace(/\/+$/, '') || '/', common, ctx);
}

function remoteTreeStep(
  src: string,
  root: string,
  common: Omit<PutOptions, 'content'>,
  ctx: PlanContext,
): Step {
  return {
    script: shScript({
      check: ctx.check,
      tmp: ctx.remoteTmp,
      vars: { src: shPath(src), root: shPath(root), owner: common.owner, group: common.group },
      tilde: ['src', 'root'],
      body: REMOTE_TREE_BODY,
    }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('copy', r, report);
      if (failed) return failed;
      return { changed: report.flag('changed'), dest: root, src, ...statResult(parseStat(report, 'dest.')) };
    },
  };
}

export const copyModule: Module<CopyArgs> = {
  names: ['copy', 'ansible.builtin.copy', 'ansible.legacy.copy'],
  check: 'full',
  diff: true,
  args: {
    options: {
      src: { type: 'path' },
      content: { type: 'raw', noLog: true },
      dest: { type: 'path', required: true },
      backup: { type: 'bool', default: false },
      force: { type: 'bool', default: true, aliases: ['thirsty'] },
      validate: { type: 'str' },
      directory_mode: { type: 'raw' },
      remote_src: { type: 'bool', default: false },
      local_follow: { type: 'bool', default: true },
      checksum: { type: 'str' },
      follow: { type: 'bool', default: false },
      decrypt: { type: 'bool', default: true },
      ...fileCommonArgs,
    },
    mutuallyExclusive: [['content', 'src']],
    requiredOneOf: [['content', 'src']],
  },
  plan: planCopy,
};
