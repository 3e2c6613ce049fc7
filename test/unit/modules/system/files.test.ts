/**
 * authorized_key, cron (cron_file), sysctl (sysctl_file, no reload) and known-file
 * modules run for real with the local sh against files in a scratch directory.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { authorizedKey, mergeAuthorizedKeys } from '../../../../modules/system/authorized-key.js';
import { cron, editCrontab } from '../../../../modules/system/cron.js';
import { sysctl } from '../../../../modules/system/sysctl.js';
import { isStep } from '../../../../modules/types.js';
import { makeContext, runModule, runSh, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 alice@laptop';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQKey2 bob';
const me = process.env.USER ?? 'root';

describe('authorized_key', () => {
  it('adds a key with mode 0600, then is idempotent', async () => {
    const path = s.path('ssh/authorized_keys');
    const r1 = await runModule(authorizedKey, { user: me, key: ED, path }, { diff: true });
    expect(r1.result).toMatchObject({ changed: true, keyfile: path, user: me, state: 'file', mode: '0600' });
    expect(r1.result.diff).toEqual({ before_header: path, after_header: path, before: '', after: `${ED}\n` });
    expect(readFileSync(path, 'utf8')).toBe(`${ED}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(s.path('ssh')).mode & 0o777).toBe(0o700);
    const r2 = await runModule(authorizedKey, { user: me, key: ED, path });
    expect(r2.result.changed).toBe(false);
    expect(r2.scripts).toHaveLength(1);
  });

  it('writes a key without comment with a trailing space, like ansible.posix', () => {
    expect(mergeAuthorizedKeys('', { key: 'ssh-ed25519 AAAA', state: 'present', exclusive: false })).toEqual({
      content: 'ssh-ed25519 AAAA \n',
    });
  });

  it('keeps foreign lines, replaces a key whose options changed, appends new keys in order', () => {
    const existing = `# managed by hand\n${RSA}\n\ngarbage line\n`;
    const m = mergeAuthorizedKeys(existing, {
      key: `${ED}\n${RSA}`,
      key_options: 'no-pty,from="10.0.0.1,10.0.0.2"',
      state: 'present',
      exclusive: false,
    });
    expect(m).toEqual({
      content: `# managed by hand\n\ngarbage line\nno-pty,from="10.0.0.1,10.0.0.2" ${ED}\nno-pty,from="10.0.0.1,10.0.0.2" ${RSA}\n`,
    });
  });

  it('exclusive removes every other key; absent removes the named key', async () => {
    const path = s.path('ak');
    writeFileSync(path, `${RSA}\n${ED}\n`);
    const ex = await runModule(authorizedKey, {
      user: me,
      key: ED,
      path,
      exclusive: true,
      manage_dir: false,
    });
    expect(ex.result.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${ED}\n`);
    const ab = await runModule(authorizedKey, {
      user: me,
      key: ED,
      path,
      state: 'absent',
      manage_dir: false,
    });
    expect(ab.result.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('');
    const again = await runModule(authorizedKey, {
      user: me,
      key: ED,
      path,
      state: 'absent',
      manage_dir: false,
    });
    expect(again.result.changed).toBe(false);
  });

  it('check mode reports the change and leaves the file alone', async () => {
    const path = s.path('ak');
    writeFileSync(path, `${RSA}\n`);
    const r = await runModule(authorizedKey, { user: me, key: ED, path }, { check: true, diff: true });
    expect(r.result.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${RSA}\n`);
  });

  it.each(["it's", 'a $b `c` "d"', 'ünï ☃', '-x \\ y'])('keeps comment %j byte-exact', async (comment) => {
    const path = s.path('dir with space/ak$`"\'');
    const r = await runModule(authorizedKey, { user: me, key: ED, path, comment });
    expect(r.result.changed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 ${comment}\n`);
  });

  it('fetches keys from a URL on the target', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/alice.keys') {
        res.writeHead(200);
        res.end(`${ED}\n${RSA}\n`);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const path = s.path('ak');
      const r = await runModule(authorizedKey, { user: me, key: `${url}/alice.keys`, path });
      expect(r.result.changed).toBe(true);
      expect(readFileSync(path, 'utf8')).toBe(`${ED}\n${RSA}\n`);
      const again = await runModule(authorizedKey, { user: me, key: `${url}/alice.keys`, path });
      expect(again.result.changed).toBe(false);
      const missing = await runModule(authorizedKey, { user: me, key: `${url}/nobody.keys`, path });
      expect(String(missing.result.msg)).toContain(`Error getting key from: ${url}/nobody.keys`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('fails on an invalid key and on an unknown user', async () => {
    const bad = await runModule(authorizedKey, { user: me, key: 'not a key', path: s.path('ak') });
    expect(bad.result).toMatchObject({ failed: true, msg: 'invalid key specified: not a key' });
    const nouser = await runModule(authorizedKey, {
      user: 'no-such-user-drover',
      key: ED,
      path: s.path('ak'),
    });
    expect(nouser.result.failed).toBe(true);
    expect(String(nouser.result.msg)).toContain('no-such-user-drover');
  });
});

describe('cron', () => {
  it('adds a job under its #Ansible marker in a cron file, then is idempotent', async () => {
    const file = s.path('cron.d/backup');
    mkdirSync(s.path('cron.d'));
    const args = {
      name: 'nightly backup',
      job: '/usr/local/bin/backup --all',
      minute: '30',
      hour: '2',
      cron_file: file,
      user: 'root',
    };
    const r1 = await runModule(cron, args, { diff: true });
    expect(r1.result).toMatchObject({ changed: true, jobs: ['nightly backup'] });
    expect(readFileSync(file, 'utf8')).toBe(
      '#Ansible: nightly backup\n30 2 * * * root /usr/local/bin/backup --all\n',
    );
    const r2 = await runModule(cron, args);
    expect(r2.result.changed).toBe(false);
    const r3 = await runModule(cron, { ...args, hour: '3' });
    expect(r3.result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(
      '#Ansible: nightly backup\n30 3 * * * root /usr/local/bin/backup --all\n',
    );
    const r4 = await runModule(cron, { name: 'nightly backup', state: 'absent', cron_file: file });
    expect(r4.result.changed).toBe(true);
    expect(() => statSync(file)).toThrow();
  });

  it('special_time, disabled and env lines', () => {
    const base = {
      user: 'root',
      state: 'present' as const,
      backup: false,
      minute: '*',
      hour: '*',
      day: '*',
      month: '*',
      weekday: '*',
      disabled: false,
      env: false,
    };
    const e1 = editCrontab(
      '',
      { ...base, name: 'r', job: 'boot.sh', special_time: 'reboot', disabled: true },
      false,
    );
    expect(e1.tab.render()).toBe('#Ansible: r\n#@reboot boot.sh\n');
    const e2 = editCrontab(
      '#Ansible: r\n@reboot x\n',
      { ...base, name: 'PATH', job: '/bin:/usr/bin', env: true },
      false,
    );
    expect(e2.tab.render()).toBe('PATH="/bin:/usr/bin"\n#Ansible: r\n@reboot x\n');
    expect(e2.tab.envNames()).toEqual(['PATH']);
  });

  it('adopts an identical unmarked job by inserting the marker', () => {
    const base = {
      user: undefined,
      state: 'present' as const,
      backup: false,
      minute: '*',
      hour: '*',
      day: '*',
      month: '*',
      weekday: '*',
      disabled: false,
      env: false,
    };
    const e = editCrontab('* * * * * echo hi\n', { ...base, name: 'hi', job: 'echo hi' }, false);
    expect(e.changed).toBe(true);
    expect(e.tab.render()).toBe('#Ansible: hi\n* * * * * echo hi\n');
  });

  it('drops the crontab -l DO NOT EDIT header', () => {
    const base = {
      user: undefined,
      state: 'present' as const,
      backup: false,
      minute: '*',
      hour: '*',
      day: '*',
      month: '*',
      weekday: '*',
      disabled: false,
      env: false,
    };
    const tab =
      '# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.x installed on Mon)\n# (Cron version -- $Id$)\n#Ansible: a\n* * * * * a\n';
    const e = editCrontab(tab, { ...base, name: 'a', job: 'a' }, false);
    expect(e.changed).toBe(false);
  });

  it('edits a user crontab through crontab -u USER -l / -', async () => {
    // Stand-in crontab keeping each user's table in $FAKE/tab.USER, with the Debian header.
    mkdirSync(s.path('bin'));
    writeFileSync(
      s.path('bin/crontab'),
      `#!/bin/sh
[ "$1" = -u ] || exit 2
f="$FAKE/tab.$2"
case "$3" in
  -l) [ -f "$f" ] || { echo "no crontab for $2" >&2; exit 1; }
      printf '# DO NOT EDIT THIS FILE - edit the master and reinstall.\\n# (/tmp/crontab.X installed on Mon)\\n# (Cron version -- $Id$)\\n'; cat "$f" ;;
  -) cat > "$f" ;;
esac
`,
    );
    chmodSync(s.path('bin/crontab'), 0o755);
    const env = { PATH: `${s.path('bin')}:${process.env.PATH}`, FAKE: s.dir };
    const run = async (raw: Record<string, unknown>) => {
      const v = validateArgs('cron', cron.args, raw);
      let next = await cron.plan(v.args as never, makeContext());
      while (isStep(next)) next = await next.parse(await runSh(next.script, next.stdin, env));
      return next;
    };
    const args = { name: 'sweep', job: 'find /tmp -mtime +7 -delete', hour: '4', minute: '0', user: 'app' };
    const first = await run(args);
    expect(first, JSON.stringify(first)).toMatchObject({ changed: true, jobs: ['sweep'] });
    expect(readFileSync(s.path('tab.app'), 'utf8')).toBe(
      '#Ansible: sweep\n0 4 * * * find /tmp -mtime +7 -delete\n',
    );
    expect((await run(args)).changed).toBe(false);
    expect(await run({ name: 'sweep', state: 'absent', user: 'app' })).toMatchObject({
      changed: true,
      jobs: [],
    });
    expect(readFileSync(s.path('tab.app'), 'utf8')).toBe('');
  });

  it('check mode leaves the cron file untouched', async () => {
    const file = s.path('cf');
    writeFileSync(file, '#Ansible: a\n* * * * * root a\n');
    const r = await runModule(cron, { name: 'b', job: 'b', cron_file: file, user: 'root' }, { check: true });
    expect(r.result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('#Ansible: a\n* * * * * root a\n');
  });

  it.each(['echo \'q\' "dq" $HOME `id` ü', '-x --y'])('job %j arrives byte-exact', async (job) => {
    const file = s.path('cf');
    await runModule(cron, { name: 'q', job, cron_file: file, user: 'root' });
    expect(readFileSync(file, 'utf8')).toBe(`#Ansible: q\n* * * * * root ${job}\n`);
  });
});

describe('sysctl', () => {
  it('adds, normalises and removes entries in the sysctl file without reloading', async () => {
    const file = s.path('sysctl.conf');
    writeFileSync(file, '# comment\nnet.ipv4.ip_forward = 0\nvm.swappiness=10\nvm.swappiness=20\n');
    const base = { sysctl_file: file, reload: false };
    const r1 = await runModule(sysctl, { ...base, name: 'net.ipv4.ip_forward', value: 'yes' });
    expect(r1.result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('# comment\nnet.ipv4.ip_forward=1\nvm.swappiness=10\n');
    const r2 = await runModule(sysctl, { ...base, name: 'net.ipv4.ip_forward', value: '1' });
    expect(r2.result.changed).toBe(false);
    const r3 = await runModule(sysctl, { ...base, name: 'kernel.drover_new', value: ' 5  6 ' });
    expect(r3.result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('kernel.drover_new=5  6\n');
    const r4 = await runModule(sysctl, { ...base, name: 'vm.swappiness', state: 'absent' });
    expect(r4.result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).not.toContain('swappiness');
  });

  it('check mode does not write; missing value fails', async () => {
    const file = s.path('s.conf');
    writeFileSync(file, '');
    const r = await runModule(
      sysctl,
      { sysctl_file: file, reload: false, name: 'a.b', value: '1' },
      { check: true },
    );
    expect(r.result.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('');
    const bad = await runModule(sysctl, { sysctl_file: file, name: 'a.b' });
    expect(bad.result).toMatchObject({ failed: true, msg: 'value cannot be None' });
  });
});
