import type { Dirent } from 'node:fs';
import { chmod, chown, copyFile, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The files every fleet host gets in its upper layer: lab users, sudo rules, sshd config
 * and host key, plain shell rc files. They are written once into a template dir per fleet
 * and copied into each host's upper dir, so the machine's own /etc is never touched.
 */

export const LAB_SSHD_DIR = '/etc/ssh/drover-lab';
export const LAB_SSHD_CONFIG = `${LAB_SSHD_DIR}/sshd_config`;

export interface LabUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** sha512-crypt hash, or '*' for key-only login (not '!': sshd without PAM treats '!' as locked). */
  hash: string;
}

export interface LayerInputs {
  clientPublicKey: string;
  hostPrivateKey: string;
  hostPublicKey: string;
  droverUser: { uid: number; gid: number };
  dpwUser: { uid: number; gid: number; hash: string };
}

export const SSHD_CONFIG = `# drover lab sshd: one per host, port given with -p
ListenAddress 127.0.0.1
HostKey ${LAB_SSHD_DIR}/ssh_host_ed25519_key
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

// Root's ~/.bashrc on the machine costs ~120 ms per login, for exec channels too.
const PLAIN_RC = '# drover lab: plain on purpose, logins must stay cheap\n';

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

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback;
  }
}

export async function readMachineTables(): Promise<{ passwd: string; group: string }> {
  return { passwd: await readOr('/etc/passwd', ''), group: await readOr('/etc/group', '') };
}

/** Creates `rel` (and parents) inside `base` with the owner and mode the machine's own dirs have. */
async function mkdirLikeMachine(base: string, rel: string): Promise<void> {
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
      const st = await lstat(cur);
      await chmod(target, st.mode & 0o7777);
      await chown(target, st.uid, st.gid);
    } catch {
      await chmod(target, 0o755);
    }
  }
}

interface Entry {
  path: string;
  content?: string;
  dir?: boolean;
  mode: number;
  uid?: number;
  gid?: number;
}

async function put(base: string, e: Entry): Promise<void> {
  const target = join(base, e.path);
  await mkdirLikeMachine(base, dirname(e.path));
  if (e.dir) await mkdir(target, { recursive: true });
  else await writeFile(target, e.content ?? '');
  await chmod(target, e.mode);
  await chown(target, e.uid ?? 0, e.gid ?? 0);
}

/** Writes the fleet's common upper-layer files into `templateDir` (fresh). */
export async function writeLayerTemplate(templateDir: string, inputs: LayerInputs): Promise<void> {
  await rm(templateDir, { recursive: true, force: true });
  await mkdir(templateDir, { recursive: true });
  const etc = {
    passwd: await readOr('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    group: await readOr('/etc/group', 'root:x:0:\n'),
    shadow: await readOr('/etc/shadow', 'root:*:19000:0:99999:7:::\n'),
    gshadow: await readOr('/etc/gshadow', 'root:*::\n'),
    sudoers: await readOr('/etc/sudoers', ''),
  };
  const shadowGid = (await lstat('/etc/shadow').catch(() => undefined))?.gid ?? 0;
  const utmpGid = Number(
    etc.group
      .split('\n')
      .find((l) => l.startsWith('utmp:'))
      ?.split(':')[2] ?? 0,
  );
  const d = inputs.droverUser;
  const p = inputs.dpwUser;
  const names = ['drover', 'dpw'];
  // Root's hash may be locked ('!...'): sshd without PAM would then refuse even key logins.
  const shadow = etc.shadow.replace(/^root:!+[^:]*:/m, 'root:*:');
  const entries: Entry[] = [
    {
      path: '/etc/passwd',
      mode: 0o644,
      content: withEntries(etc.passwd, names, [
        `drover:x:${d.uid}:${d.gid}:drover lab user:/home/drover:/bin/bash`,
        `dpw:x:${p.uid}:${p.gid}:drover lab password user:/home/dpw:/bin/bash`,
      ]),
    },
    {
      path: '/etc/group',
      mode: 0o644,
      content: withEntries(etc.group, names, [`drover:x:${d.gid}:`, `dpw:x:${p.gid}:`]),
    },
    {
      path: '/etc/shadow',
      mode: 0o640,
      gid: shadowGid,
      content: withEntries(shadow, names, [
        `drover:*:20000:0:99999:7:::`,
        `dpw:${p.hash}:20000:0:99999:7:::`,
      ]),
    },
    {
      path: '/etc/gshadow',
      mode: 0o640,
      gid: shadowGid,
      content: withEntries(etc.gshadow, names, ['drover:!::', 'dpw:!::']),
    },
    {
      path: '/etc/sudoers.d/drover-lab',
      mode: 0o440,
      content:
        '# drover lab users: drover needs no password, dpw must give one\n' +
        'Defaults lecture=never\n' +
        'drover ALL=(ALL:ALL) NOPASSWD: ALL\n' +
        'dpw ALL=(ALL:ALL) ALL\n',
    },
    { path: LAB_SSHD_CONFIG, mode: 0o644, content: SSHD_CONFIG },
    { path: `${LAB_SSHD_DIR}/ssh_host_ed25519_key`, mode: 0o600, content: inputs.hostPrivateKey },
    { path: `${LAB_SSHD_DIR}/ssh_host_ed25519_key.pub`, mode: 0o644, content: inputs.hostPublicKey },
    // Present from the start so a login's wtmp/lastlog writes copy up no directories.
    { path: '/var/log/wtmp', mode: 0o664, gid: utmpGid },
    { path: '/var/log/btmp', mode: 0o660, gid: utmpGid },
    { path: '/var/log/lastlog', mode: 0o664, gid: utmpGid },
  ];
  if (etc.sudoers !== '' && !/^[@#]includedir\s+\/etc\/sudoers\.d/m.test(etc.sudoers)) {
    entries.push({
      path: '/etc/sudoers',
      mode: 0o440,
      content: `${etc.sudoers}\n@includedir /etc/sudoers.d\n`,
    });
  }
  const users = [
    { home: '/root', uid: 0, gid: 0 },
    { home: '/home/drover', uid: d.uid, gid: d.gid },
    { home: '/home/dpw', uid: p.uid, gid: p.gid },
  ];
  for (const u of users) {
    const own = { uid: u.uid, gid: u.gid };
    entries.push(
      { path: u.home, dir: true, mode: u.uid === 0 ? 0o700 : 0o755, ...own },
      { path: `${u.home}/.bashrc`, mode: 0o644, content: PLAIN_RC, ...own },
      { path: `${u.home}/.profile`, mode: 0o644, content: PLAIN_RC, ...own },
      { path: `${u.home}/.ssh`, dir: true, mode: 0o700, ...own },
      { path: `${u.home}/.ssh/authorized_keys`, mode: 0o600, content: inputs.clientPublicKey, ...own },
    );
  }
  for (const e of entries) await put(templateDir, e);
}

/** Copies a tree keeping mode and owner (the template is small: a few dozen entries). */
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

/** Fills a host's (empty) upper dir: the fleet template plus its own hostname files. */
export async function fillUpper(templateDir: string, upperDir: string, hostname: string): Promise<void> {
  await copyTree(templateDir, upperDir);
  const hosts = await readOr('/etc/hosts', '127.0.0.1 localhost\n');
  // sudo resolves the hostname; without an entry it warns and may wait on DNS.
  await put(upperDir, {
    path: '/etc/hosts',
    mode: 0o644,
    content: `${hosts.trimEnd()}\n127.0.1.1 ${hostname}\n`,
  });
  await put(upperDir, { path: '/etc/hostname', mode: 0o644, content: `${hostname}\n` });
}
