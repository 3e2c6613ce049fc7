/**
 * Extended attributes. Node has no xattr API, so one python3 process per tree reads (or
 * sets) all of them at once (ADR 101). python3 is on every Debian machine that runs
 * ansible-core; without it, trees are read without xattrs only when the caller allows it.
 */

import { spawn } from 'node:child_process';
import { ControllerError } from '../errors.js';

const READ_SCRIPT = `
import os, sys, json
root = os.fsencode(sys.argv[1])
out = []
def visit(p):
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return
    if not names:
        return
    attrs = {}
    for n in names:
        try:
            attrs[n] = os.getxattr(p, n, follow_symlinks=False).hex()
        except OSError:
            pass
    out.append([os.path.relpath(p, root).hex(), attrs])
visit(root)
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        visit(os.path.join(d, n))
sys.stdout.write(json.dumps(out))
`;

const WRITE_SCRIPT = `
import os, sys, json
for path, name, value in json.load(sys.stdin):
    os.setxattr(bytes.fromhex(path), name, bytes.fromhex(value), follow_symlinks=False)
`;

function runPython(script: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new ControllerError(
              'python3 is needed to read and write extended attributes of image layers',
              'install it: apt-get install python3',
            )
          : e,
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new ControllerError(`xattr helper failed: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
    child.stdin.end(stdin);
  });
}

/** All xattrs under `root` (root itself is "."), keyed by path relative to root. */
export async function readTreeXattrs(root: string): Promise<Map<string, Record<string, Buffer>>> {
  const json = JSON.parse(await runPython(READ_SCRIPT, [root], '')) as [string, Record<string, string>][];
  const out = new Map<string, Record<string, Buffer>>();
  for (const [pathHex, attrs] of json) {
    const rec: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(attrs)) rec[k] = Buffer.from(v, 'hex');
    out.set(Buffer.from(pathHex, 'hex').toString('utf8'), rec);
  }
  return out;
}

/** Sets xattrs (no symlink following); absolute paths. */
export async function writeXattrs(items: { path: string; name: string; value: Buffer }[]): Promise<void> {
  if (items.length === 0) return;
  const payload = items.map((i) => [
    Buffer.from(i.path, 'utf8').toString('hex'),
    i.name,
    i.value.toString('hex'),
  ]);
  await runPython(WRITE_SCRIPT, [], JSON.stringify(payload));
}
