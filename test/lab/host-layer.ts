import { lstat, mkdir, rm } from 'node:fs/promises';
import {
  copyTree,
  freeId,
  hostnameEntries,
  type LayerEntry,
  loginEntries,
  putEntry,
  readOr,
  SSHD_CONFIG,
  SSHD_CONFIG_PATH,
  SSHD_DIR,
  sshdEntries,
  unlockRootHash,
  withEntries,
} from '../../src/machine/sshd-layer.js';

/**
 * The files every fleet host gets in its upper layer: lab users, sudo rules, sshd config
 * and host key, plain shell rc files. They are written once into a template dir per fleet
 * and copied into each host's upper dir, so the machine's own /etc is never touched.
 */

export const LAB_SSHD_DIR = SSHD_DIR;
export const LAB_SSHD_CONFIG = SSHD_CONFIG_PATH;
export { copyTree, freeId, SSHD_CONFIG, withEntries };

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

export async function readMachineTables(): Promise<{ passwd: string; group: string }> {
  return { passwd: await readOr('/etc/passwd', ''), group: await readOr('/etc/group', '') };
}

type Entry = LayerEntry;
const put = (base: string, e: Entry): Promise<void> => putEntry(base, e);

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
  const shadow = unlockRootHash(etc.shadow);
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
    ...sshdEntries(inputs.hostPrivateKey, inputs.hostPublicKey),
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
  for (const u of users) entries.push(...loginEntries(u, inputs.clientPublicKey));
  for (const e of entries) await put(templateDir, e);
}

/** Fills a host's (empty) upper dir: the fleet template plus its own hostname files. */
export async function fillUpper(templateDir: string, upperDir: string, hostname: string): Promise<void> {
  await copyTree(templateDir, upperDir);
  for (const e of await hostnameEntries(hostname)) await put(upperDir, e);
}
