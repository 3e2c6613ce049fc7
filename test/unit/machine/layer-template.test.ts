import { lstat, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillUpper, SSHD_CONFIG, writeLayerTemplate } from '../../lab/host-layer.js';

// chown needs root, as the whole lab does.
const asRoot = process.getuid?.() === 0;

describe.skipIf(!asRoot)('fleet upper-layer template', () => {
  let dir: string;
  const t = () => join(dir, 'template');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-template-'));
    await writeLayerTemplate(t(), {
      clientPublicKey: 'ssh-ed25519 AAAAclient lab\n',
      hostPrivateKey: 'PRIVATE\n',
      hostPublicKey: 'ssh-ed25519 AAAAhost lab\n',
      droverUser: { uid: 2345, gid: 2345 },
      dpwUser: { uid: 2346, gid: 2346, hash: '$6$salt$hash' },
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const meta = async (rel: string) => {
    const st = await lstat(join(t(), rel));
    return { mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
  };

  it('adds the lab users to copies of the machine tables, nothing else changes', async () => {
    const machine = await readFile('/etc/passwd', 'utf8');
    const passwd = await readFile(join(t(), 'etc/passwd'), 'utf8');
    expect(passwd).toContain('drover:x:2345:2345:drover lab user:/home/drover:/bin/bash\n');
    expect(passwd).toContain('dpw:x:2346:2346:');
    const kept = machine.split('\n').filter((l) => l !== '' && !/^(drover|dpw):/.test(l));
    for (const line of kept) expect(passwd).toContain(`${line}\n`);
    const shadow = await readFile(join(t(), 'etc/shadow'), 'utf8');
    expect(shadow).toMatch(/^dpw:\$6\$salt\$hash:/m);
    expect(shadow).toMatch(/^drover:\*:/m);
    // sshd without PAM refuses accounts whose hash starts with '!', keys included.
    expect(shadow).not.toMatch(/^root:!/m);
    expect((await meta('etc/shadow')).mode).toBe('640');
  });

  it('gives each user a key, a plain shell rc and the right owners and modes', async () => {
    for (const [home, uid] of [
      ['root', 0],
      ['home/drover', 2345],
      ['home/dpw', 2346],
    ] as const) {
      expect(await readFile(join(t(), home, '.ssh/authorized_keys'), 'utf8')).toBe(
        'ssh-ed25519 AAAAclient lab\n',
      );
      expect(await meta(`${home}/.ssh/authorized_keys`)).toEqual({ mode: '600', uid, gid: uid });
      expect(await meta(`${home}/.ssh`)).toEqual({ mode: '700', uid, gid: uid });
      expect(await readFile(join(t(), home, '.bashrc'), 'utf8')).toMatch(/^# /);
    }
    expect((await meta('root')).mode).toBe('700');
  });

  it('writes sudo rules, sshd config and host key with strict modes', async () => {
    const sudoers = await readFile(join(t(), 'etc/sudoers.d/drover-lab'), 'utf8');
    expect(sudoers).toContain('drover ALL=(ALL:ALL) NOPASSWD: ALL');
    expect(sudoers).toMatch(/^dpw ALL=\(ALL:ALL\) ALL$/m);
    expect(sudoers).toContain('lecture=never');
    expect((await meta('etc/sudoers.d/drover-lab')).mode).toBe('440');
    expect(await meta('etc/ssh/drover-lab/ssh_host_ed25519_key')).toEqual({ mode: '600', uid: 0, gid: 0 });
    expect(await readFile(join(t(), 'etc/ssh/drover-lab/sshd_config'), 'utf8')).toBe(SSHD_CONFIG);
    expect(SSHD_CONFIG).toMatch(/^UsePAM no$/m);
    expect(SSHD_CONFIG).toMatch(/^MaxStartups 1000:30:1000$/m);
  });

  it('fillUpper copies the template keeping owners and adds the hostname', async () => {
    const upper = join(dir, 'upper');
    await fillUpper(t(), upper, 'web07');
    expect(await readFile(join(upper, 'etc/hostname'), 'utf8')).toBe('web07\n');
    expect(await readFile(join(upper, 'etc/hosts'), 'utf8')).toMatch(/^127\.0\.1\.1 web07$/m);
    const st = await lstat(join(upper, 'home/dpw/.ssh/authorized_keys'));
    expect([st.uid, (st.mode & 0o777).toString(8)]).toEqual([2346, '600']);
  });
});
