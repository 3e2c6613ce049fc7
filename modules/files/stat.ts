/** stat: Ansible's stat dictionary from `stat -c`, checksum, link target and mime (`file`, when present). */
import { parseReport } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import type { Module, PlanContext, Step } from '../types.js';
import { failureFrom } from './common.js';

export interface StatArgs {
  path: string;
  follow: boolean;
  get_checksum: boolean;
  checksum_algorithm: string;
  get_mime: boolean;
  get_attributes: boolean;
}

// One `stat` for every field (the names on lines of their own: a name may hold a blank) and
// one `file --mime` for type and charset: few processes per task (docs/performance.md).
const STAT_BODY = String.raw`
if [ ! -e "$path" ] && [ ! -L "$path" ]; then dr_out exists 0; exit 0; fi
dr_out exists 1
if [ "$follow" = 1 ]; then dr_sf=-L; else dr_sf=; fi
dr_st=$(stat $dr_sf -c '%f %u %g %s %X %Y %Z %i %d %h
%U
%G' "$path")
dr_ifs=$IFS; IFS=$DR_NL; set -f
set -- $dr_st
IFS=$dr_ifs; set +f
dr_out raw "$1"
dr_out64 pw_name "$2"
dr_out64 gr_name "$3"
if [ -L "$path" ]; then
  dr_out64 lnk_target "$(readlink "$path")"
  dr_out64 lnk_source "$(readlink -f "$path")"
fi
[ -r "$path" ] && dr_out readable 1
[ -w "$path" ] && dr_out writeable 1
[ -x "$path" ] && dr_out executable 1
if [ "$checksum" = 1 ] && [ -f "$path" ] && [ -r "$path" ]; then
  if { [ "$follow" = 1 ] || [ ! -L "$path" ]; }; then dr_sum_of "$path" "$algo"; dr_out checksum "$DR_SUM"; fi
fi
if [ "$mime" = 1 ] && command -v file >/dev/null 2>&1; then
  # --mime prints "TYPE; charset=ENCODING", or one message (e.g. no read permission) for both
  dr_mime=$(file -b --mime "$path" 2>/dev/null)
  case $dr_mime in
    *'; charset='*) dr_out64 mimetype "${'$'}{dr_mime%%; charset=*}"; dr_out64 charset "${'$'}{dr_mime##*; charset=}" ;;
    *) dr_out64 mimetype "$dr_mime"; dr_out64 charset "$dr_mime" ;;
  esac
fi
`;

const ALGOS: Record<string, string> = {
  md5: 'md5',
  sha1: 'sha1',
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
};

function planStat(args: StatArgs, ctx: PlanContext): Step {
  return {
    script: shScript({
      check: ctx.check,
      vars: {
        path: shPath(args.path),
        follow: args.follow,
        checksum: args.get_checksum,
        algo: ALGOS[args.checksum_algorithm] ?? 'sha1',
        mime: args.get_mime,
      },
      tilde: ['path'],
      body: STAT_BODY,
    }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('stat', r, report);
      if (failed) return failed;
      if (!report.flag('exists')) return { changed: false, stat: { exists: false } };
      const f = (report.get('raw') ?? '').trim().split(/\s+/);
      const n = (i: number) => Number.parseInt(f[i] ?? '0', 10);
      const raw = Number.parseInt(f[0] ?? '0', 16);
      const fmt = raw & 0o170000;
      const perm = raw & 0o7777;
      const stat: Record<string, unknown> = {
        exists: true,
        path: args.path,
        mode: perm.toString(8).padStart(4, '0'),
        isdir: fmt === 0o040000,
        ischr: fmt === 0o020000,
        isblk: fmt === 0o060000,
        isreg: fmt === 0o100000,
        isfifo: fmt === 0o010000,
        islnk: fmt === 0o120000,
        issock: fmt === 0o140000,
        uid: n(1),
        gid: n(2),
        size: n(3),
        atime: n(4),
        mtime: n(5),
        ctime: n(6),
        inode: n(7),
        dev: n(8),
        nlink: n(9),
        pw_name: report.get('pw_name'),
        gr_name: report.get('gr_name'),
        wusr: (perm & 0o200) !== 0,
        rusr: (perm & 0o400) !== 0,
        xusr: (perm & 0o100) !== 0,
        wgrp: (perm & 0o020) !== 0,
        rgrp: (perm & 0o040) !== 0,
        xgrp: (perm & 0o010) !== 0,
        woth: (perm & 0o002) !== 0,
        roth: (perm & 0o004) !== 0,
        xoth: (perm & 0o001) !== 0,
        isuid: (perm & 0o4000) !== 0,
        isgid: (perm & 0o2000) !== 0,
        readable: report.flag('readable'),
        writeable: report.flag('writeable'),
        executable: report.flag('executable'),
      };
      for (const k of ['lnk_target', 'lnk_source', 'checksum', 'mimetype', 'charset']) {
        const v = report.get(k);
        if (v !== undefined && v !== '') stat[k] = v;
      }
      if (args.get_mime && stat.mimetype === undefined) {
        stat.mimetype = 'unknown';
        stat.charset = 'unknown';
      }
      return { changed: false, stat };
    },
  };
}

export const statModule: Module<StatArgs> = {
  names: ['stat', 'ansible.builtin.stat', 'ansible.legacy.stat'],
  check: 'full',
  args: {
    options: {
      path: { type: 'path', required: true, aliases: ['dest', 'name'] },
      follow: { type: 'bool', default: false },
      get_checksum: { type: 'bool', default: true },
      checksum_algorithm: {
        type: 'str',
        default: 'sha1',
        aliases: ['checksum', 'checksum_algo'],
        choices: ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'],
      },
      get_mime: { type: 'bool', default: true, aliases: ['mime', 'mime_type', 'mime-type'] },
      get_attributes: { type: 'bool', default: true, aliases: ['attr', 'attributes'] },
    },
  },
  plan: planStat,
};
