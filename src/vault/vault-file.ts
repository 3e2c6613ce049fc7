/**
 * Operations on vault files as ansible-vault's VaultEditor does them, with two deliberate
 * differences: rewrites are atomic (temp file in the same directory, then rename) and a
 * rewritten file keeps its mode and owner (ansible-vault resets encrypt/decrypt output to
 * 0600). New files are created 0600.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { shlexSplit } from '../shell/shlex.js';
import { VaultError } from './error.js';
import { Keyring, type VaultSecret } from './keyring.js';

/** Reads a file, or all of stdin for `-`. */
export async function readSource(
  file: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'No such file or directory' : err.message;
    throw new VaultError(`Unable to read source file (${file}): ${why}`);
  }
}

/**
 * Replaces `file` atomically. An existing file keeps its mode and owner; a new one is 0600
 * (vault plaintext or ciphertext is nobody else's business).
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const path = resolve(file);
  let prev: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new VaultError(`${file} is not a regular file; refusing to overwrite it`);
    prev = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if (e instanceof VaultError) throw e;
  }
  const tmp = join(dirname(path), `.${basename(path)}.drover-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    if (prev) {
      await chmod(tmp, prev.mode);
      // Only root can give a file away; for anyone else the owner is already the same.
      if (process.getuid?.() === 0) await chown(tmp, prev.uid, prev.gid);
    }
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw new VaultError(`Unable to write ${file}: ${(e as Error).message}`);
  }
}

/** Writes to a file, or to stdout for `-`. */
export async function writeTarget(
  file: string,
  data: Uint8Array | string,
  stdout: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  if (file === '-') {
    await new Promise<void>((res, rej) => stdout.write(data, (e) => (e ? rej(e) : res())));
    return;
  }
  await writeFileAtomic(file, data);
}

export interface StreamOptions {
  /** Output file; `-` for stdout. Default: rewrite the input file (stdout for stdin). */
  output?: string;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

export async function encryptFile(
  keyring: Keyring,
  file: string,
  opts: StreamOptions & { id?: string } = {},
): Promise<void> {
  const plaintext = await readSource(file, opts.stdin);
  const enc: { id?: string } = {};
  if (opts.id !== undefined) enc.id = opts.id;
  await writeTarget(opts.output ?? file, keyring.encrypt(plaintext, enc), opts.stdout);
}

export async function decryptFile(keyring: Keyring, file: string, opts: StreamOptions = {}): Promise<void> {
  const data = await readSource(file, opts.stdin);
  await writeTarget(opts.output ?? file, keyring.decrypt(data, file === '-' ? 'stdin' : file), opts.stdout);
}

/** Decrypts `file` and re-encrypts it with `newSecret` (labelled with its id unless 'default'). */
export async function rekeyFile(keyring: Keyring, file: string, newSecret: VaultSecret): Promise<void> {
  const plaintext = keyring.decrypt(await readSource(file), file);
  await writeFileAtomic(file, new Keyring([newSecret]).encrypt(plaintext));
}

export interface EditorOptions {
  /** The editor command line (shell words); default $EDITOR, else vi. */
  editor?: string;
}

/**
 * Opens `plaintext` in the editor in a private temp dir (0700, file 0600, same extension so
 * editors pick the right mode), and returns what was saved. The plaintext file is overwritten
 * and removed afterwards, whatever happens.
 */
export async function editPlaintext(
  plaintext: Buffer,
  nameHint: string,
  opts: EditorOptions = {},
): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-vault-'));
  await chmod(dir, 0o700);
  const tmp = join(dir, `edit${extname(nameHint)}`);
  try {
    await writeFile(tmp, plaintext, { mode: 0o600 });
    const words = shlexSplit(opts.editor ?? (process.env.EDITOR || 'vi'));
    if (words.length === 0) throw new VaultError('The editor command ($EDITOR) is empty');
    // Ctrl-C in the editor reaches drover too (same process group); without a handler Node
    // would die on the spot and leave the plaintext behind. Ignore it while the editor runs.
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    let r: ReturnType<typeof spawnSync>;
    try {
      r = spawnSync(words[0]!, [...words.slice(1), tmp], { stdio: 'inherit' });
    } finally {
      process.off('SIGINT', ignore);
    }
    if (r.error) {
      throw new VaultError(
        `Unable to execute the command "${[...words, tmp].join(' ')}": ${r.error.message}`,
        'Set $EDITOR to an editor that exists.',
      );
    }
    return await readFile(tmp);
  } finally {
    await shred(tmp);
    await rm(dir, { recursive: true, force: true });
  }
}

async function shred(file: string): Promise<void> {
  try {
    const st = await stat(file);
    if (st.size > 0) await writeFile(file, Buffer.alloc(st.size));
  } catch {
    // already gone
  }
}

/** `vault create`: the file must not exist; its directory is created if missing. */
export async function createFile(
  keyring: Keyring,
  file: string,
  opts: EditorOptions & { id?: string; warn?: (m: string) => void } = {},
): Promise<void> {
  const exists = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  if (exists) throw new VaultError(`${file} exists, please use 'edit' instead`);
  const dir = dirname(file);
  const dirExists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (!dirExists) {
    opts.warn?.(`${dir} does not exist, creating...`);
    await mkdir(dir, { recursive: true });
  }
  const saved = await editPlaintext(Buffer.alloc(0), file, opts);
  const enc: { id?: string } = {};
  if (opts.id !== undefined) enc.id = opts.id;
  await writeFileAtomic(file, keyring.encrypt(saved, enc));
}

/** `vault edit`: re-encrypts with the secret that opened it and the file's own label, only if changed. */
export async function editFile(keyring: Keyring, file: string, opts: EditorOptions = {}): Promise<boolean> {
  const text = await readSource(file);
  const opened = keyring.open(text, file);
  const saved = await editPlaintext(opened.plaintext, file, opts);
  if (saved.equals(opened.plaintext)) return false;
  const secret = { id: opened.fileId ?? 'default', password: opened.secret.password };
  await writeFileAtomic(file, new Keyring([secret]).encrypt(saved));
  return true;
}
