/**
 * System and package modules on real fleet hosts (each host has its own overlay `/`, mount,
 * UTS and PID namespaces): the planned scripts run over the OpenSSH client, twice (changed,
 * then ok), with check mode first proving the host's writable layer is untouched.
 *
 * Hosts share this machine's kernel, so sysctl runs with reload=no (a live `sysctl -w` would
 * change this machine too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateArgs } from '../../modules/args.js';
import { findModule } from '../../modules/index.js';
import { getUrl } from '../../modules/net/get-url.js';
import { git } from '../../modules/net/git.js';
import { apt } from '../../modules/packages/apt.js';
import { authorizedKey } from '../../modules/system/authorized-key.js';
import { cron } from '../../modules/system/cron.js';
import { group } from '../../modules/system/group.js';
import { hostname } from '../../modules/system/hostname.js';
import { mount } from '../../modules/system/mount.js';
import { service } from '../../modules/system/service.js';
import { sysctl } from '../../modules/system/sysctl.js';
import { user } from '../../modules/system/user.js';
import { waitFor } from '../../modules/system/wait-for.js';
import { type AnyModule, isStep, type PlanContext, type TaskResult } from '../../modules/types.js';
import { quote } from '../../src/shell/quote.js';
import type { Fleet } from '../lab/fleet.js';
import { runAnsiblePlaybook, runSsh, useFleet } from '../lab/use-fleet.js';
import { sysvInitScript } from './scenarios/system.js';

const HOST = 'h18';
const HOST2 = 'h19';
// ansible-core runs on ORACLE_A, drover on ORACLE_B, from the same fresh state.
const ORACLE_A = 'h16';
const ORACLE_B = 'h17';
let fleet: Fleet;

beforeAll(async () => {
  fleet = await useFleet();
});
afterAll(async () => {
  // Other e2e files share the fleet: give these hosts back as new.
  await fleet.resetHost(HOST);
  await fleet.resetHost(HOST2);
  await fleet.resetHost(ORACLE_A);
  await fleet.resetHost(ORACLE_B);
});

function ctx(host: string, check: boolean): PlanContext {
  return {
    host,
    check,
    diff: true,
    facts: {},
    remoteUser: 'root',
    becoming: false,
    remoteTmp: '/tmp',
    files: {
      find: () => undefined,
      read: async () => Buffer.alloc(0),
      walk: async () => [],
      write: async () => {},
    },
    render: async (s) => s,
  };
}

async function run(
  mod: AnyModule,
  raw: Record<string, unknown>,
  opts: { host?: string; check?: boolean } = {},
) {
  const host = opts.host ?? HOST;
  const v = validateArgs(mod.names[0]!, mod.args, raw);
  expect(v.errors).toEqual([]);
  let next = await mod.plan(v.args, ctx(host, opts.check ?? false));
  let trips = 0;
  while (isStep(next)) {
    trips++;
    const r = await runSsh(fleet, host, `sh -c ${quote(next.script)}`, {
      input:
        typeof next.stdin === 'string'
          ? next.stdin
          : next.stdin
            ? Buffer.from(next.stdin).toString('utf8')
            : '',
      timeoutMs: 300_000,
    });
    next = await next.parse({ rc: r.code ?? 255, stdout: r.stdout, stderr: r.stderr });
  }
  return { result: next as TaskResult, trips };
}

async function on(host: string, cmd: string): Promise<string> {
  const r = await runSsh(fleet, host, cmd);
  return r.stdout;
}

/** check mode (host untouched), real run (changed), rerun (ok). */
async function scenario(mod: AnyModule, raw: Record<string, unknown>, host = HOST): Promise<TaskResult> {
  const before = await fleet.snapshot(host);
  const chk = await run(mod, raw, { host, check: true });
  expect(chk.result.failed, String(chk.result.msg)).toBeFalsy();
  expect(chk.result.changed).toBe(true);
  expect(fleet.diff(before, await fleet.snapshot(host)), 'check mode wrote to the host').toEqual(
    fleet.diff(before, before),
  );
  const first = await run(mod, raw, { host });
  expect(first.result.failed, String(first.result.msg)).toBeFalsy();
  expect(first.result.changed).toBe(true);
  const second = await run(mod, raw, { host });
  expect(second.result.failed, String(second.result.msg)).toBeFalsy();
  expect(second.result.changed).toBe(false);
  expect(second.trips).toBe(1);
  return first.result;
}

describe('accounts on a fleet host', () => {
  it('group: check, create, idempotent', async () => {
    const r = await scenario(group, { name: 'drovergrp', gid: 2345 });
    expect(r.gid).toBe(2345);
    expect(await on(HOST, 'getent group drovergrp')).toBe('drovergrp:x:2345:\n');
  });

  it('user: check, create with groups/shell/home/password, idempotent, modify, remove', async () => {
    const args = {
      name: 'droveruser',
      uid: 2346,
      groups: ['drovergrp'],
      shell: '/bin/sh',
      home: '/home/droveruser',
      comment: "Dröver 'test' $user",
      password: '$6$abc$Zq9',
    };
    const r = await scenario(user, args);
    expect(r).toMatchObject({ uid: 2346, shell: '/bin/sh', home: '/home/droveruser' });
    expect(await on(HOST, 'getent passwd droveruser')).toBe(
      "droveruser:x:2346:2346:Dröver 'test' $user:/home/droveruser:/bin/sh\n",
    );
    expect(await on(HOST, 'id -Gn droveruser')).toBe('droveruser drovergrp\n');
    expect(await on(HOST, 'getent shadow droveruser | cut -d: -f2')).toBe('$6$abc$Zq9\n');
    expect(await on(HOST, 'test -d /home/droveruser && echo home')).toBe('home\n');
    const mod = await run(user, { ...args, shell: '/bin/bash' });
    expect(mod.result.changed).toBe(true);
    expect(await on(HOST, 'getent passwd droveruser | cut -d: -f7')).toBe('/bin/bash\n');
    const key = await run(user, { name: 'droveruser', generate_ssh_key: true, ssh_key_type: 'ed25519' });
    expect(key.result.changed).toBe(true);
    expect(String(key.result.ssh_public_key)).toMatch(/^ssh-ed25519 /);
    expect(await on(HOST, 'stat -c %U /home/droveruser/.ssh/id_ed25519')).toBe('droveruser\n');
    const del = await run(user, { name: 'droveruser', state: 'absent', remove: true });
    expect(del.result.changed).toBe(true);
    expect(await on(HOST, 'getent passwd droveruser; test -e /home/droveruser || echo gone')).toBe('gone\n');
  });
});

describe('files on a fleet host', () => {
  it('authorized_key for the drover user: mode, owner, idempotent', async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverE2eKey drover@e2e';
    await scenario(authorizedKey, { user: 'drover', key, path: '/home/drover/.ssh/extra_keys' });
    expect(await on(HOST, 'stat -c "%a %U" /home/drover/.ssh/extra_keys /home/drover/.ssh')).toBe(
      '600 drover\n700 drover\n',
    );
    expect(await on(HOST, 'cat /home/drover/.ssh/extra_keys')).toBe(`${key}\n`);
  });

  it('cron file entry', async () => {
    await scenario(cron, {
      name: 'drover e2e',
      job: 'echo "$HOME" > /dev/null',
      minute: '*/5',
      cron_file: 'drover-e2e',
      user: 'root',
    });
    expect(await on(HOST, 'cat /etc/cron.d/drover-e2e')).toBe(
      '#Ansible: drover e2e\n*/5 * * * * root echo "$HOME" > /dev/null\n',
    );
  });

  it('sysctl file handling (reload=no: hosts share the kernel)', async () => {
    await scenario(sysctl, {
      name: 'vm.swappiness',
      value: '17',
      sysctl_file: '/etc/sysctl.d/99-drover.conf',
      reload: false,
    });
    expect(await on(HOST, 'cat /etc/sysctl.d/99-drover.conf')).toBe('vm.swappiness=17\n');
  });

  it("hostname in the host's own UTS namespace", async () => {
    await scenario(hostname, { name: 'renamed.example.test', use: 'debian' }, HOST2);
    expect(await on(HOST2, 'hostname; cat /etc/hostname')).toBe(
      'renamed.example.test\nrenamed.example.test\n',
    );
  });
});

const INIT_SCRIPT = sysvInitScript('drover-demo');

describe('sysv service on a fleet host', () => {
  it('starts, enables, is idempotent, stops', async () => {
    await runSsh(fleet, HOST2, `cat > /etc/init.d/drover-demo && chmod 755 /etc/init.d/drover-demo`, {
      input: INIT_SCRIPT,
    });
    const r = await scenario(service, { name: 'drover-demo', state: 'started', enabled: true }, HOST2);
    expect(r).toMatchObject({ name: 'drover-demo', state: 'started', enabled: true });
    expect(await on(HOST2, '/etc/init.d/drover-demo status && echo running')).toBe('running\n');
    expect(await on(HOST2, 'ls /etc/rc2.d | grep -c drover-demo')).toBe('1\n');
    const stop = await run(service, { name: 'drover-demo', state: 'stopped' }, { host: HOST2 });
    expect(stop.result.changed).toBe(true);
    expect(await on(HOST2, '/etc/init.d/drover-demo status || echo stopped')).toBe('stopped\n');
    const missing = await run(service, { name: 'no-such-service', state: 'started' }, { host: HOST2 });
    expect(missing.result).toMatchObject({ failed: true });
    expect(String(missing.result.msg)).toContain('no-such-service');
  });
});

describe('apt on a fleet host (Debian mirror)', () => {
  it('update_cache refreshes, then cache_valid_time keeps it', async () => {
    const r1 = await run(apt, { update_cache: true }, { host: HOST2 });
    expect(r1.result, String(r1.result.msg)).toMatchObject({ changed: true, cache_updated: true });
    const r2 = await run(apt, { update_cache: true, cache_valid_time: 3600 }, { host: HOST2 });
    expect(r2.result).toMatchObject({ changed: false, cache_updated: false });
    expect(r2.result.cache_update_time).toBe(r1.result.cache_update_time);
  }, 300_000);

  it('installs and removes a small package', async () => {
    const r = await scenario(apt, { name: 'sl', install_recommends: false });
    expect(String(r.stdout)).toContain('sl');
    expect(await on(HOST, "dpkg-query -W -f='$" + "{Status}' sl")).toBe('install ok installed');
    expect(await on(HOST, 'test -x /usr/games/sl && echo yes')).toBe('yes\n');
    const rm = await scenario(apt, { name: 'sl', state: 'absent', purge: true });
    expect(rm.changed).toBe(true);
    expect(await on(HOST, "dpkg-query -W -f='$" + "{Status}' sl 2>/dev/null; echo")).not.toContain(
      'install ok installed',
    );
  }, 300_000);
});

describe('mounts and net modules on a fleet host', () => {
  it("mount: a tmpfs mounted in the host's own mount namespace, then unmounted and removed", async () => {
    const args = {
      path: '/mnt/drover tmp',
      src: 'tmpfs',
      fstype: 'tmpfs',
      opts: 'size=1m',
      state: 'mounted',
    };
    await scenario(mount, args, HOST2);
    expect(await on(HOST2, 'grep -c "drover.040tmp tmpfs" /proc/mounts')).toBe('1\n');
    expect(await on(HOST2, 'cat /etc/fstab')).toContain('tmpfs /mnt/drover\\040tmp tmpfs size=1m 0 0\n');
    const un = await run(mount, { ...args, state: 'unmounted' }, { host: HOST2 });
    expect(un.result.changed).toBe(true);
    expect(await on(HOST2, 'grep -c "/mnt/drover" /proc/mounts')).toBe('0\n');
    const gone = await run(mount, { path: '/mnt/drover tmp', state: 'absent' }, { host: HOST2 });
    expect(gone.result.changed).toBe(true);
    expect(await on(HOST2, 'grep -c drover /etc/fstab; test -e "/mnt/drover tmp" || echo removed')).toBe(
      '0\nremoved\n',
    );
  });

  it('git: clone from a repository on the host, then ok', async () => {
    await on(
      HOST2,
      'set -e; mkdir -p /srv/src && cd /srv/src && git init -q -b main . && echo hi > f && git -c user.name=t -c user.email=t@x add f && git -c user.name=t -c user.email=t@x commit -q -m one && git tag v1',
    );
    const sha = (await on(HOST2, 'git -C /srv/src rev-parse HEAD')).trim();
    const r = await scenario(git, { repo: '/srv/src', dest: '/opt/checkout', version: 'v1' }, HOST2);
    expect(r).toMatchObject({ before: null, after: sha });
    expect(await on(HOST2, 'cat /opt/checkout/f')).toBe('hi\n');
  });

  it('get_url: file:// download with checksum and mode, then ok', async () => {
    await on(HOST2, 'printf payload > /srv/payload.bin');
    const sum = (await on(HOST2, 'sha256sum /srv/payload.bin | cut -d" " -f1')).trim();
    await scenario(
      getUrl,
      { url: 'file:///srv/payload.bin', dest: '/opt/payload.bin', checksum: `sha256:${sum}`, mode: '0600' },
      HOST2,
    );
    expect(await on(HOST2, 'stat -c %a /opt/payload.bin; cat /opt/payload.bin')).toBe('600\npayload');
  });

  it('wait_for: a path that appears while waiting', async () => {
    const waiting = run(
      waitFor,
      { path: '/tmp/drover-ready', search_regex: 'up (\\d+)', timeout: 20 },
      { host: HOST2 },
    );
    await on(HOST2, 'sleep 1; echo "up 42" > /tmp/drover-ready');
    const r = await waiting;
    expect(r.result).toMatchObject({ changed: false, match_groups: ['42'] });
  });
});

const USER_KEYS = [
  'name',
  'state',
  'uid',
  'group',
  'gid',
  'home',
  'shell',
  'comment',
  'system',
  'append',
  'create_home',
  'force',
  'remove',
];

describe('accounts: drover and ansible-core on twin fleet hosts', () => {
  const TASKS: [string, Record<string, unknown>][] = [
    ['group', { name: 'ops', gid: 3100 }],
    ['group', { name: 'ops', gid: 3100 }],
    ['group', { name: 'web', gid: 3101, system: true }],
    [
      'user',
      { name: 'alice', uid: 3200, group: 'ops', groups: ['web'], shell: '/bin/sh', comment: "Alice O'Hara" },
    ],
    [
      'user',
      { name: 'alice', uid: 3200, group: 'ops', groups: ['web'], shell: '/bin/sh', comment: "Alice O'Hara" },
    ],
    ['user', { name: 'alice', groups: ['users'], append: true }],
    ['user', { name: 'alice', groups: ['users'], append: true }],
    ['user', { name: 'alice', groups: ['web'] }],
    ['user', { name: 'alice', password: '$6$salt$abcdef', update_password: 'on_create' }],
    ['user', { name: 'alice', password: '$6$salt$abcdef' }],
    ['user', { name: 'alice', password: '$6$salt$abcdef' }],
    ['user', { name: 'bob', uid: 3201, create_home: false, shell: '/usr/sbin/nologin' }],
    ['user', { name: 'bob', state: 'absent' }],
    ['user', { name: 'bob', state: 'absent' }],
    ['group', { name: 'web', state: 'absent' }],
    ['user', { name: 'carol', groups: ['nosuchgroup'] }],
  ];

  it('per task changed/failed and the resulting passwd/group/shadow lines agree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-oracle-acct-'));
    try {
      const pb = [
        {
          hosts: ORACLE_A,
          gather_facts: false,
          tasks: TASKS.map(([m, a], i) => ({ name: `t${i}`, [m]: a, ignore_errors: true })),
        },
      ];
      writeFileSync(join(dir, 'pb.yml'), JSON.stringify(pb));
      const r = await runAnsiblePlaybook(fleet, [join(dir, 'pb.yml')], {
        env: { ANSIBLE_STDOUT_CALLBACK: 'json' },
        timeoutMs: 120_000,
      });
      const out = JSON.parse(r.stdout) as { plays: { tasks: { hosts: Record<string, TaskResult> }[] }[] };
      const ans = out.plays[0]!.tasks.map((t) => t.hosts[ORACLE_A]!);
      expect(ans).toHaveLength(TASKS.length);
      let compared = 0;
      for (const [i, [m, a]] of TASKS.entries()) {
        const d = await run(findModule(m)!, a, { host: ORACLE_B });
        expect(
          { changed: Boolean(d.result.changed), failed: Boolean(d.result.failed) },
          `t${i} ${m} ${JSON.stringify(a)}: ${String(d.result.msg ?? '')} / ansible: ${String(ans[i]!.msg ?? '')}`,
        ).toEqual({ changed: Boolean(ans[i]!.changed), failed: Boolean(ans[i]!.failed) });
        // The result keys playbooks register and read, where ansible returns them.
        for (const k of USER_KEYS) {
          if (ans[i]!.failed || !(k in ans[i]!)) continue;
          expect(d.result[k], `t${i} ${m} ${JSON.stringify(a)} key ${k}`).toEqual(ans[i]![k]);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(40);
      const state =
        'for n in alice bob; do getent passwd $n; getent shadow $n | cut -d: -f1,2; done; for g in ops web users; do getent group $g; done; ls -d /home/alice /home/bob 2>&1';
      const mine = await on(ORACLE_B, state);
      expect(mine).toContain("alice:x:3200:3100:Alice O'Hara:/home/alice:/bin/sh\n");
      expect(mine).toContain('alice:$6$salt$abcdef\n');
      expect(mine).not.toContain('web:x:');
      expect(mine).not.toContain('bob:x:');
      expect(mine).toBe(await on(ORACLE_A, state));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('files, services and packages: drover and ansible-core on twin fleet hosts', () => {
  const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwinKey twin@test';
  const HOSTKEY = 'git.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGitHostKey';
  const TASKS: [string, Record<string, unknown>][] = [
    ['authorized_key', { user: 'drover', key: KEY }],
    ['authorized_key', { user: 'drover', key: KEY }],
    ['authorized_key', { user: 'drover', key: KEY, key_options: 'no-pty' }],
    ['known_hosts', { name: 'git.example', key: HOSTKEY }],
    ['known_hosts', { name: 'git.example', key: HOSTKEY }],
    [
      'sysctl',
      { name: 'vm.swappiness', value: '11', sysctl_file: '/etc/sysctl.d/90-twin.conf', reload: false },
    ],
    [
      'sysctl',
      { name: 'vm.swappiness', value: '11', sysctl_file: '/etc/sysctl.d/90-twin.conf', reload: false },
    ],
    // hostname is left out: ansible-core 2.14's debian strategy calls hostnamectl, which fails
    // without systemd as PID 1 (drover writes /etc/hostname; see the hostname test above).
    ['mount', { path: '/mnt/twin', src: 'tmpfs', fstype: 'tmpfs', opts: 'size=1m', state: 'mounted' }],
    ['mount', { path: '/mnt/twin', src: 'tmpfs', fstype: 'tmpfs', opts: 'size=1m', state: 'mounted' }],
    ['mount', { path: '/mnt/twin', state: 'unmounted' }],
    ['service', { name: 'drover-demo', state: 'started', enabled: true }],
    ['service', { name: 'drover-demo', state: 'started', enabled: true }],
    ['service', { name: 'drover-demo', state: 'stopped' }],
    ['service', { name: 'drover-demo', state: 'stopped' }],
    ['service', { name: 'drover-demo', enabled: false }],
    ['service', { name: 'drover-demo', enabled: false }],
    ['service', { name: 'drover-demo', state: 'restarted' }],
    ['service', { name: 'drover-demo', state: 'reloaded' }],
    ['service', { name: 'drover-demo', state: 'stopped' }],
    ['service', { name: 'no-such-service', state: 'started' }],
    ['apt', { name: 'sl', install_recommends: false }],
    ['apt', { name: 'sl', install_recommends: false }],
    ['apt', { name: 'sl', state: 'absent' }],
    ['apt', { name: 'sl', state: 'absent' }],
    ['apt', { name: 'drover-no-such-package' }],
    ['getent', { database: 'passwd', key: 'drover' }],
  ];

  it('per task changed/failed and the resulting files agree', async () => {
    for (const h of [ORACLE_A, ORACLE_B]) {
      await runSsh(fleet, h, 'cat > /etc/init.d/drover-demo && chmod 755 /etc/init.d/drover-demo', {
        input: INIT_SCRIPT,
      });
    }
    const dir = mkdtempSync(join(tmpdir(), 'drover-oracle-mixed-'));
    try {
      const pb = [
        {
          hosts: ORACLE_A,
          gather_facts: false,
          tasks: TASKS.map(([m, a], i) => ({ name: `t${i}`, [m]: a, ignore_errors: true })),
        },
      ];
      writeFileSync(join(dir, 'pb.yml'), JSON.stringify(pb));
      const r = await runAnsiblePlaybook(fleet, [join(dir, 'pb.yml')], {
        env: { ANSIBLE_STDOUT_CALLBACK: 'json' },
        timeoutMs: 300_000,
      });
      const out = JSON.parse(r.stdout) as { plays: { tasks: { hosts: Record<string, TaskResult> }[] }[] };
      const ans = out.plays[0]!.tasks.map((t) => t.hosts[ORACLE_A]!);
      expect(ans).toHaveLength(TASKS.length);
      for (const [i, [m, a]] of TASKS.entries()) {
        const d = await run(findModule(m)!, a, { host: ORACLE_B });
        expect(
          { changed: Boolean(d.result.changed), failed: Boolean(d.result.failed) },
          `t${i} ${m} ${JSON.stringify(a)}: ${String(d.result.msg ?? '')} / ansible: ${String(ans[i]!.msg ?? '')}`,
        ).toEqual({ changed: Boolean(ans[i]!.changed), failed: Boolean(ans[i]!.failed) });
        if (m === 'getent') expect(d.result.ansible_facts).toEqual(ans[i]!.ansible_facts);
      }
      const state = [
        'cat /home/drover/.ssh/authorized_keys',
        'stat -c "%a %U" /home/drover/.ssh /home/drover/.ssh/authorized_keys',
        'cat /root/.ssh/known_hosts',
        'cat /etc/sysctl.d/90-twin.conf',
        'cat /etc/fstab; grep -c twin /proc/mounts',
        'ls /etc/rc2.d | grep drover; /etc/init.d/drover-demo status || echo stopped',
        "dpkg-query -W -f='$" + "{Status}\\n' sl 2>&1",
      ].join('; echo --; ');
      const mine = await on(ORACLE_B, state);
      expect(mine).toContain(`no-pty ${KEY}`);
      expect(mine).toBe(await on(ORACLE_A, state));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
