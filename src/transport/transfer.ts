/**
 * File transfer over plain exec channels: `cat` into a temp file beside the target, then
 * `mv` it into place. Needs nothing on the target but sh and coreutils (no sftp), works
 * through become, and a reader never sees a half-written file.
 */

import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { quote } from '../shell/quote.js';
import type { Become } from './types.js';

export interface RawRun {
  rc: number;
  stdout: Buffer;
  stderr: Buffer;
  becomeError?: string;
}

/** What put/get need from a transport: run a script with a byte payload, get bytes back. */
export type RawRunner = (
  script: string,
  stdin: Buffer | undefined,
  become: Become | undefined,
) => Promise<RawRun>;

/** A file copy to or from a host failed although the host is reachable. */
export class TransferError extends Error {
  constructor(
    readonly host: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransferError';
  }
}

function remoteDirAndName(remote: string): { dir: string; name: string } {
  const slash = remote.lastIndexOf('/');
  if (slash < 0) return { dir: '.', name: remote };
  return { dir: slash === 0 ? '/' : remote.slice(0, slash), name: remote.slice(slash + 1) };
}

/** The script `put` runs; stdin is the file's content. */
export function putScript(remote: string, mode?: number): string {
  const { dir, name } = remoteDirAndName(remote);
  const tmp = `${dir === '/' ? '' : dir}/.${name}.drover-${randomBytes(6).toString('hex')}.tmp`;
  const lines = [
    `t=${quote(tmp)}`,
    // Remove the temp file on any failure; after a successful mv it no longer exists.
    `trap 'rm -f "$t"' EXIT`,
    `cat > "$t" || exit $?`,
  ];
  if (mode !== undefined) lines.push(`chmod ${(mode & 0o7777).toString(8).padStart(4, '0')} "$t" || exit $?`);
  lines.push(`mv -f "$t" ${quote(remote)} || exit $?`);
  return `${lines.join('\n')}\n`;
}

function describe(r: RawRun): string {
  return r.becomeError ?? (r.stderr.toString('utf8').trim() || `exit code ${r.rc}`);
}

export async function putWith(
  runner: RawRunner,
  host: string,
  local: string | Uint8Array,
  remote: string,
  opts: { mode?: number; become?: Become } = {},
): Promise<void> {
  const data = typeof local === 'string' ? await readFile(local) : Buffer.from(local);
  const r = await runner(putScript(remote, opts.mode), data, opts.become);
  if (r.rc !== 0 || r.becomeError) {
    throw new TransferError(host, remote, `copying to ${host}:${remote} failed: ${describe(r)}`);
  }
}

export async function getWith(
  runner: RawRunner,
  host: string,
  remote: string,
  local: string,
  opts: { become?: Become } = {},
): Promise<void> {
  const r = await runner(`exec cat -- ${quote(remote)}\n`, undefined, opts.become);
  if (r.rc !== 0 || r.becomeError) {
    throw new TransferError(host, remote, `copying ${host}:${remote} to ${local} failed: ${describe(r)}`);
  }
  const tmp = join(dirname(local), `.${basename(local)}.drover-${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, r.stdout);
    await rename(tmp, local);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
