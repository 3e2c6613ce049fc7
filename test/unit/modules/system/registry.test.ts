/** Every system, package and net module answers to its short, builtin and collection names. */
import { describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { findModule } from '../../../../modules/index.js';

const NAMES: Record<string, string[]> = {
  user: ['ansible.builtin.user'],
  group: ['ansible.builtin.group'],
  authorized_key: ['ansible.posix.authorized_key'],
  cron: ['ansible.builtin.cron'],
  sysctl: ['ansible.posix.sysctl'],
  hostname: ['ansible.builtin.hostname'],
  getent: ['ansible.builtin.getent'],
  known_hosts: ['ansible.builtin.known_hosts'],
  mount: ['ansible.posix.mount'],
  wait_for: ['ansible.builtin.wait_for'],
  service: ['ansible.builtin.service'],
  systemd: ['ansible.builtin.systemd', 'systemd_service', 'ansible.builtin.systemd_service'],
  reboot: ['ansible.builtin.reboot'],
  package: ['ansible.builtin.package'],
  apt: ['ansible.builtin.apt'],
  apt_repository: ['ansible.builtin.apt_repository'],
  apt_key: ['ansible.builtin.apt_key'],
  dnf: ['ansible.builtin.dnf'],
  yum: ['ansible.builtin.yum'],
  apk: ['community.general.apk'],
  pip: ['ansible.builtin.pip'],
  git: ['ansible.builtin.git'],
  get_url: ['ansible.builtin.get_url'],
  uri: ['ansible.builtin.uri'],
};

describe('registry', () => {
  it.each(Object.entries(NAMES))('%s is registered under all its names', (short, others) => {
    const mod = findModule(short);
    expect(mod, short).toBeDefined();
    for (const n of others) expect(findModule(n), n).toBe(mod);
  });

  it('validation names the module and the argument before any host is contacted', () => {
    const mod = findModule('ansible.builtin.user')!;
    const v = validateArgs('user', mod.args, { name: 'x', shel: '/bin/sh' });
    expect(v.errors[0]).toContain('Unsupported parameters for (user) module: shel');
    const apt = findModule('apt')!;
    expect(validateArgs('apt', apt.args, { name: 'x', state: 'installed' }).errors[0]).toBe(
      'value of state must be one of: absent, build-dep, latest, present, fixed, got: installed',
    );
  });
});
