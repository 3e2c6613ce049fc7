import { execFile } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { chmod, chown, copyFile, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * What a namespaced host needs in its upper layer to be an sshd host: an sshd config and
 * host key of its own, authorized keys, plain shell rc files (root's ~/.bashrc here costs
 * ~120 ms per login, for exec channels too), its hostname in /etc/hosts. Shared by the test
 * fleet (test/lab) and the infra `machine` provider; the machine's own /etc is never touched.
 */

const run = promisify(execFile);

export const SSHD_DIR = '/etc/ssh/drover-lab';
export const SSHD_CONFIG_PATH = `${SSHD_DIR}/sshd_config`;

export const SSHD_CONFIG = `# drover lab sshd: one per host, port given with -p
ListenAddress 127.0.0.1
HostKey ${SSHD_DIR}/ssh_host_ed25519_key
UsePAM no
PidFile none
MaxStartups 1000:30:1000
MaxSessions 100
LogLevel ERROR
PrintLastLog no
PrintMotd no
UseDNS no
AllowTcpForwarding yes
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
`;

export const PLAIN_RC = '# drover lab: plain on purpose, logins must stay cheap\n';

/** PID 1 of an sshd host: sshd in the foreground on `port` (127.0.0.1 only, from the config). */
export function sshdCommand(port: number, configPath = SSHD_CONFIG_PATH): string[] {
  return [
    '/bin/sh',
    '-c',
    `mkdir -p -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f ${configPath} -p ${port}`,
  ];
}

/** One file or dir to place in a layer. */
export interface LayerEntry {
  path: string;
  content?: string;
  dir?: boolean;
  mode: number;
  uid?: number;
  gid?: number;
}

/** First id >= start that none of the given files (passwd/group format) uses in column 3. */
export function freeId(tables: string[], start: number): number {
  const used = new Set<number>();
  for (const t of tables) {
    for (const line of t.split('\n')) {
      const id = Number(line.split(':')[2]);
      if (Number.isInteger(id)) used.add(id);
    }
  }
  let id = start;
  while (used.has(id)) id++;
  return id;
}

/** Removes entries named `names` from a colon table and appends `add` lines. */
export function withEntries(table: string, names: string[], add: string[]): string {
  const kept = table.split('\n').filter((l) => l !== '' && !names.includes(l.split(':')[0] ?? ''));
  return `${[...kept, ...add].join('\n')}\n`;
}

export async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Creates `rel` (and parents) inside `base` with the owner and mode the same dirs have under `like`. */
async function mkdirLike(base: string, rel: string, like: string): Promise<void> {
  let cur = '';
  for (const part of rel.split('/').filter((p) => p !== '')) {
    cur = `${cur}/${part}`;
    const target = join(base, cur);
    try {
      await lstat(target);
      continue;
    } catch {
      // create below
    }
    await mkdir(target);
    try {
      const st = await lstat(join(like, cur));
      await chmod(target, st.mode & 0o7777);
      await chown(target, st.uid, st.gid);
    } catch {
      await chmod(target, 0o755);
    }
  }
}

/** Writes one entry under `base`; missing parents copy mode and owner from the lower root `like`. */
export async function putEntry(base: string, e: LayerEntry, like = '/'): Promise<void> {
  const target = join(base, e.path);
  await mkdirLike(base, dirname(e.path), like);
  if (e.dir) await mkdir(target, { recursive: true });
  else await writeFile(target, e.content ?? '');
  await chmod(target, e.mode);
  await chown(target, e.uid ?? 0, e.gid ?? 0);
}

/** sshd's config and host key pair. */
export function sshdEntries(hostPrivateKey: string, hostPublicKey: string): LayerEntry[] {
  return [
    { path: SSHD_CONFIG_PATH, mode: 0o644, content: SSHD_CONFIG },
    { path: `${SSHD_DIR}/ssh_host_ed25519_key`, mode: 0o600, content: hostPrivateKey },
    { path: `${SSHD_DIR}/ssh_host_ed25519_key.pub`, mode: 0o644, content: hostPublicKey },
  ];
}

/** A login user's home with plain rc files and `authorizedKeys`. */
export function loginEntries(
  user: { home: string; uid: number; gid: number },
  authorizedKeys: string,
): LayerEntry[] {
  const own = { uid: user.uid, gid: user.gid };
  return [
    { path: user.home, dir: true, mode: user.uid === 0 ? 0o700 : 0o755, ...own },
    { path: `${user.home}/.bashrc`, mode: 0o644, content: PLAIN_RC, ...own },
    { path: `${user.home}/.profile`, mode: 0o644, content: PLAIN_RC, ...own },
    { path: `${user.home}/.ssh`, dir: true, mode: 0o700, ...own },
    { path: `${user.home}/.ssh/authorized_keys`, mode: 0o600, content: authorizedKeys, ...own },
  ];
}

/** Root's hash may be locked ('!...'): sshd without PAM would then refuse even key logins. */
export function unlockRootHash(shadow: string): string {
  return shadow.replace(/^root:!+[^:]*:/m, 'root:*:');
}

/** /etc/hosts (sudo resolves the hostname; without an entry it warns and may wait on DNS) and /etc/hostname. */
export async function hostnameEntries(hostname: string, lowerRoot = '/'): Promise<LayerEntry[]> {
  const hosts = await readOr(join(lowerRoot, 'etc/hosts'), '127.0.0.1 localhost\n');
  return [
    { path: '/etc/hosts', mode: 0o644, content: `${hosts.trimEnd()}\n127.0.1.1 ${hostname}\n` },
    { path: '/etc/hostname', mode: 0o644, content: `${hostname}\n` },
  ];
}

/** Copies a tree keeping mode and owner (layer templates are small: a few dozen entries). */
export async function copyTree(from: string, to: string): Promise<void> {
  const st = await lstat(from);
  if (st.isDirectory()) {
    await mkdir(to, { recursive: true });
    const entries: Dirent[] = await readdir(from, { withFileTypes: true });
    await Promise.all(entries.map((e) => copyTree(join(from, e.name), join(to, e.name))));
  } else {
    await copyFile(from, to);
  }
  await chmod(to, st.mode & 0o7777);
  await chown(to, st.uid, st.gid);
}

/** A fresh ed25519 key pair (no passphrase) at `file` and `file.pub`; returns both texts. */
export async function generateKeyPair(
  file: string,
  comment: string,
): Promise<{ privateKey: string; publicKey: string }> {
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return { privateKey: await readFile(file, 'utf8'), publicKey: await readFile(`${file}.pub`, 'utf8') };
}
