/** A byte-exact picture of a directory (paths, types, modes, contents) to prove check mode wrote nothing. */

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const rec = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(join(dir, r))}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode} ${st.mtimeMs}`;
        rec(r);
      } else
        out[r] = `file ${mode} ${st.mtimeMs} ${createHash('sha1')
          .update(readFileSync(join(dir, r)))
          .digest('hex')}`;
    }
  };
  rec('');
  return out;
}
