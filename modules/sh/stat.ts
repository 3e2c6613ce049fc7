/** Reads the answer of the prelude's `dr_stat PREFIX PATH`. */
import type { Report } from './protocol.js';

export interface RemoteStat {
  type: 'file' | 'directory' | 'link' | 'other' | 'absent';
  /** '0644' */
  mode?: string;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  atime?: number;
  nlink?: number;
  inode?: number;
  owner?: string;
  group?: string;
  /** Symlink target, for links. */
  target?: string;
}

export function parseStat(report: Report, prefix: string): RemoteStat {
  const t = report.get(`${prefix}type`);
  const type = (['file', 'directory', 'link', 'other'] as const).find((x) => x === t) ?? 'absent';
  const st: RemoteStat = { type };
  if (type === 'absent') return st;
  const fields = (report.get(`${prefix}stat`) ?? '').trim().split(/\s+/);
  const num = (i: number) => {
    const v = fields[i];
    return v !== undefined && /^\d+$/.test(v) ? Number.parseInt(v, 10) : undefined;
  };
  if (fields[0] && /^[0-7]+$/.test(fields[0]))
    st.mode = Number.parseInt(fields[0], 8).toString(8).padStart(4, '0');
  const set = <K extends keyof RemoteStat>(k: K, v: RemoteStat[K] | undefined) => {
    if (v !== undefined) st[k] = v;
  };
  set('uid', num(1));
  set('gid', num(2));
  set('size', num(3));
  set('mtime', num(4));
  set('atime', num(5));
  set('nlink', num(6));
  set('inode', num(7));
  set('owner', report.get(`${prefix}owner`));
  set('group', report.get(`${prefix}group`));
  set('target', report.get(`${prefix}target`));
  return st;
}
