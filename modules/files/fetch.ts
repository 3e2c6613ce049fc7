/**
 * fetch: one round trip that sends the remote file back (base64) only when its sha1
 * differs from the controller's copy, which plan() reads first through ctx.files.
 */
import { createHash } from 'node:crypto';
import { parseReport } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { basename, failureFrom } from './common.js';

export interface FetchArgs {
  src: string;
  dest: string;
  flat: boolean;
  fail_on_missing: boolean;
  validate_checksum: boolean;
}

const FETCH_BODY = String.raw`
t=$(dr_type "$src")
if [ "$t" = link ]; then t=$(dr_type "$(readlink -f "$src")"); fi
dr_out type "$t"
[ "$t" = file ] || exit 0
[ -r "$src" ] || { dr_out unreadable 1; exit 0; }
sum=$(dr_sha1 "$src")
dr_out sum "$sum"
dr_out md5 "$(md5sum < "$src" 2>/dev/null | cut -d' ' -f1)"
if [ "$sum" != "$local_sum" ]; then dr_outfile content "$src"; fi
`;

/** Where fetch writes on the controller: dest/<host>/<src path>, or dest itself when flat. */
export function fetchDest(args: Pick<FetchArgs, 'src' | 'dest' | 'flat'>, host: string): string {
  if (args.flat) return args.dest.endsWith('/') ? `${args.dest}${basename(args.src)}` : args.dest;
  const rel = args.src.replace(/^\/+/, '');
  return `${args.dest.replace(/\/+$/, '')}/${host}/${rel}`;
}

async function planFetch(args: FetchArgs, ctx: PlanContext): Promise<Step | TaskResult> {
  const dest = fetchDest(args, ctx.host);
  let localSum = '';
  try {
    localSum = createHash('sha1')
      .update(await ctx.files.read(dest))
      .digest('hex');
  } catch {
    localSum = '';
  }
  return {
    script: shScript({
      check: ctx.check,
      vars: { src: shPath(args.src), local_sum: localSum },
      tilde: ['src'],
      body: FETCH_BODY,
    }),
    noBecome: false,
    async parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('fetch', r, report);
      if (failed) return failed;
      const t = report.get('type');
      const missing = (msg: string): TaskResult =>
        args.fail_on_missing
          ? { failed: true, changed: false, msg, file: args.src }
          : { changed: false, msg, file: args.src };
      if (t === 'absent') return missing('the remote file does not exist, not transferring, ignored');
      if (t === 'directory') return missing('remote file is a directory, fetch cannot work on directories');
      if (report.flag('unreadable')) return missing('file is not readable, not transferring, ignored');
      const remoteSum = report.get('sum') ?? '';
      const res: TaskResult = {
        changed: false,
        dest,
        file: args.src,
        checksum: remoteSum,
        remote_checksum: remoteSum,
      };
      const md5 = report.get('md5');
      if (md5) res.remote_md5sum = md5;
      if (remoteSum === localSum) return res;
      const data = report.bytes('content') ?? Buffer.alloc(0);
      const got = createHash('sha1').update(data).digest('hex');
      if (args.validate_checksum && got !== remoteSum) {
        return {
          failed: true,
          msg: 'checksum mismatch',
          file: args.src,
          dest,
          checksum: got,
          remote_checksum: remoteSum,
        };
      }
      if (!ctx.check) await ctx.files.write(dest, data);
      res.changed = true;
      if (md5) res.md5sum = createHash('md5').update(data).digest('hex');
      return res;
    },
  };
}

export const fetchModule: Module<FetchArgs> = {
  names: ['fetch', 'ansible.builtin.fetch', 'ansible.legacy.fetch'],
  check: 'full',
  args: {
    options: {
      src: { type: 'str', required: true },
      dest: { type: 'str', required: true },
      flat: { type: 'bool', default: false },
      fail_on_missing: { type: 'bool', default: true },
      validate_checksum: { type: 'bool', default: true },
    },
  },
  plan: planFetch,
};
