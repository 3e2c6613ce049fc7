/**
 * Pieces every file module shares: Ansible's common file arguments, turning a remote stat
 * into Ansible's file return values, and failure results from script answers.
 */

import type { RunResult } from '../../src/transport/types.js';
import { normalizeMode } from '../sh/mode.js';
import type { Report } from '../sh/protocol.js';
import type { RemoteStat } from '../sh/stat.js';
import type { ArgDef, TaskResult } from '../types.js';

/** add_file_common_args=True in AnsibleModule. SELinux and attributes are accepted and ignored. */
export const fileCommonArgs: Record<string, ArgDef> = {
  mode: { type: 'raw' },
  owner: { type: 'str' },
  group: { type: 'str' },
  seuser: { type: 'str' },
  serole: { type: 'str' },
  selevel: { type: 'str' },
  setype: { type: 'str' },
  attributes: { type: 'str', aliases: ['attr'] },
  unsafe_writes: { type: 'bool', default: false },
};

export interface FileAttrs {
  owner: string;
  group: string;
  mode: string;
}

/** owner/group/mode from validated args; mode errors become a failed TaskResult. */
export function fileAttrs(
  args: Record<string, unknown>,
  opts: { allowPreserve?: boolean } = {},
): FileAttrs | TaskResult {
  const m = normalizeMode(args.mode, opts);
  if (!m.ok) return { failed: true, msg: m.error };
  return {
    owner: typeof args.owner === 'string' ? args.owner : '',
    group: typeof args.group === 'string' ? args.group : '',
    mode: m.mode ?? '',
  };
}

export function isResult(x: FileAttrs | TaskResult): x is TaskResult {
  return 'failed' in x;
}

const STATE: Record<RemoteStat['type'], string> = {
  file: 'file',
  directory: 'directory',
  link: 'link',
  other: 'file',
  absent: 'absent',
};

/** Ansible's file return values (path/dest, state, mode, owner, ...) from a remote stat. */
export function statResult(st: RemoteStat): TaskResult {
  if (st.type === 'absent') return { state: 'absent' };
  const out: TaskResult = { state: STATE[st.type] };
  if (st.uid !== undefined) out.uid = st.uid;
  if (st.gid !== undefined) out.gid = st.gid;
  if (st.owner !== undefined) out.owner = st.owner;
  if (st.group !== undefined) out.group = st.group;
  if (st.mode !== undefined) out.mode = st.mode;
  if (st.size !== undefined) out.size = st.size;
  if (st.type === 'link' && st.target !== undefined) out.src = st.target;
  return out;
}

/**
 * A failed script: the `msg` it reported, else its stderr, else the exit status. Never a
 * bare "MODULE FAILURE".
 */
export function failureFrom(module: string, r: RunResult, report: Report): TaskResult | undefined {
  if (r.rc === 0 && !report.flag('failed')) return undefined;
  const reported = report.get('msg');
  const stderr = r.stderr.trim();
  const out: TaskResult = {
    failed: true,
    msg:
      reported ??
      (stderr !== '' ? `${module}: ${stderr}` : `${module}: remote script exited with status ${r.rc}`),
    rc: r.rc,
  };
  if (stderr !== '') out.stderr = stderr;
  for (const k of ['exit_status', 'stdout']) {
    const v = report.get(k);
    if (v !== undefined) out[k] = k === 'exit_status' ? Number(v) : v;
  }
  const vstderr = report.get('validate_stderr');
  if (vstderr !== undefined) out.stderr = vstderr;
  return out;
}

/** Ansible diffs only text: files with NUL bytes or above this size are left out. */
export const DIFF_MAX_BYTES = 104448;

export function diffText(b: Buffer | undefined): string | undefined {
  if (b === undefined || b.length > DIFF_MAX_BYTES || b.includes(0)) return undefined;
  return b.toString('utf8');
}

export function basename(p: string): string {
  const t = p.replace(/\/+$/, '');
  const i = t.lastIndexOf('/');
  return i < 0 ? t : t.slice(i + 1);
}

export function dirname(p: string): string {
  const t = p.replace(/\/+$/, '');
  const i = t.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : t.slice(0, i);
}

/** json.dumps(d, sort_keys=True, indent=4) + newline, as Ansible's callback serializes a diff dict. */
export function sortedJson(d: Record<string, unknown>): string {
  const sort = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
        )
      : v;
  return `${JSON.stringify(sort(d), null, 4)}\n`;
}

/**
 * The owner/group (ids) and mode changes `dr_attrs` recorded under DR_AD=1 (`attr.KEY` =
 * "before after"), into the before/after dicts of an Ansible file-attributes diff.
 */
export function addAttrChanges(
  report: Report,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): void {
  for (const [key, asNumber] of [
    ['owner', true],
    ['group', true],
    ['mode', false],
  ] as const) {
    const v = report.get(`attr.${key}`);
    if (v === undefined) continue;
    const [b, a] = v.split(' ');
    before[key] = asNumber ? Number(b) : b;
    after[key] = asNumber ? Number(a) : a;
  }
}
