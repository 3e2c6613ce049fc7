/**
 * known_hosts with the real ssh-keygen and mount's fstab handling, both against files in a
 * scratch directory (nothing is mounted: the mount/umount paths run on fleet hosts only).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashHostKey, hostFieldMatches, knownHosts } from '../../../../modules/system/known-hosts.js';
import { escapeFstab, mount, setMount, unsetMount } from '../../../../modules/system/mount.js';
import { runModule, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

const K1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOne';
const K2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyTwo';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQRsaKey';

describe('known_hosts', () => {
  it('adds a host key, is idempotent, replaces a changed key of the same type', async () => {
    const path = s.path('kh/known_hosts');
    const r1 = await runModule(
      knownHosts,
      { name: 'git.example.org', key: `git.example.org ${K1}`, path },
      { diff: true },
    );
    expect(r1.result).toMatchObject({ changed: true, path });
    expect(r1.result.diff).toMatchObject({ before_header: '/dev/null', after: `git.example.org ${K1}\n` });
    expect(readFileSync(path, 'utf8')).toBe(`git.example.org ${K1}\n`);
    const r2 = await runModule(knownHosts, { name: 'git.example.org', key: `git.example.org ${K1}`, path });
    expect(r2.result.changed).toBe(false);
    writeFileSync(path, `other.host ${RSA}\ngit.example.org ${K1}\n`);
    const r3 = await runModule(knownHosts, { name: 'git.example.org', key: `git.example.org ${K2}`, path });
    expect(r3.result.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`other.host ${RSA}\ngit.example.org ${K2}\n`);
  });

  it('absent removes the host; a non-matching key is left alone', async () => {
    const path = s.path('known_hosts');
    writeFileSync(path, `a.example ${K1}\nb.example ${RSA}\na.example ${RSA}\n`);
    const other = await runModule(knownHosts, {
      name: 'b.example',
      key: `b.example ${K1}`,
      path,
      state: 'absent',
    });
    expect(other.result.changed).toBe(false);
    const all = await runModule(knownHosts, { name: 'a.example', path, state: 'absent' });
    expect(all.result.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`b.example ${RSA}\n`);
  });

  it('hash_host writes an entry ssh-keygen finds, once', async () => {
    const path = s.path('known_hosts');
    const r1 = await runModule(knownHosts, {
      name: '[h.example]:2222',
      key: `[h.example]:2222 ${K1}`,
      path,
      hash_host: true,
    });
    expect(r1.result.changed).toBe(true);
    const line = readFileSync(path, 'utf8');
    expect(line).toMatch(/^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /);
    expect(hostFieldMatches(line.split(' ')[0]!, '[h.example]:2222')).toBe(true);
    const r2 = await runModule(knownHosts, {
      name: '[h.example]:2222',
      key: `[h.example]:2222 ${K1}`,
      path,
      hash_host: true,
    });
    expect(r2.result.changed).toBe(false);
  });

  it('rejects a key whose host field names another host; check mode writes nothing', async () => {
    const bad = await runModule(knownHosts, {
      name: 'x.example',
      key: `y.example ${K1}`,
      path: s.path('kh'),
    });
    expect(bad.result.failed).toBe(true);
    const hashed = hashHostKey('y.example', `y.example ${K1}`);
    const badHash = await runModule(knownHosts, { name: 'x.example', key: hashed, path: s.path('kh') });
    expect(badHash.result.msg).toBe('Host parameter does not match hashed host field in supplied key');
    const chk = await runModule(
      knownHosts,
      { name: 'x.example', key: `x.example ${K1}`, path: s.path('kh') },
      { check: true },
    );
    expect(chk.result.changed).toBe(true);
    expect(() => readFileSync(s.path('kh'))).toThrow();
  });
});

describe('mount (fstab only)', () => {
  it('escapes fstab fields like ansible.posix', () => {
    expect(escapeFstab('/mnt/my data & more\\x')).toBe('/mnt/my\\040data\\040\\046\\040more\\134x');
  });

  it('present adds, is idempotent, updates changed fields in place; absent_from_fstab removes', async () => {
    const fstab = s.path('fstab');
    writeFileSync(fstab, '# static\nUUID=1 / ext4 defaults 0 1\n');
    const args = {
      path: '/mnt/data dir',
      src: '/dev/sdb1',
      fstype: 'ext4',
      opts: 'noatime',
      state: 'present',
      fstab,
    };
    const r1 = await runModule(mount, args, { diff: true });
    expect(r1.result).toMatchObject({ changed: true, name: '/mnt/data dir', opts: 'noatime' });
    expect(readFileSync(fstab, 'utf8')).toBe(
      '# static\nUUID=1 / ext4 defaults 0 1\n/dev/sdb1 /mnt/data\\040dir ext4 noatime 0 0\n',
    );
    expect((await runModule(mount, args)).result.changed).toBe(false);
    const r3 = await runModule(mount, { ...args, boot: false, passno: '2' });
    expect(r3.result.changed).toBe(true);
    expect(readFileSync(fstab, 'utf8')).toContain('/dev/sdb1 /mnt/data\\040dir ext4 noatime,noauto 0 2\n');
    const r4 = await runModule(mount, { path: '/mnt/data dir', state: 'absent_from_fstab', fstab });
    expect(r4.result.changed).toBe(true);
    expect(readFileSync(fstab, 'utf8')).toBe('# static\nUUID=1 / ext4 defaults 0 1\n');
  });

  it('mounted in check mode reports the change and writes nothing; present needs src and fstype', async () => {
    const fstab = s.path('fstab');
    writeFileSync(fstab, '');
    const r = await runModule(
      mount,
      { path: s.path('mnt'), src: 'tmpfs', fstype: 'tmpfs', state: 'mounted', fstab },
      { check: true },
    );
    expect(r.result.changed).toBe(true);
    expect(readFileSync(fstab, 'utf8')).toBe('');
    const bad = await runModule(mount, { path: '/x', state: 'present', fstab });
    expect(bad.result).toMatchObject({ failed: true, msg: 'state=present requires src and fstype' });
  });

  it('setMount/unsetMount keep foreign lines byte-exact', () => {
    const before = '#c\n\tUUID=2  /home ext4 defaults 0 2\nodd line\n';
    const set = setMount(before, {
      src: 'UUID=2',
      name: '/home',
      fstype: 'ext4',
      opts: 'defaults',
      dump: '0',
      passno: '2',
    });
    expect(set).toEqual({ content: before, changed: false });
    expect(unsetMount(before, '/home')).toEqual({ content: '#c\nodd line\n', changed: true });
  });
});
