/**
 * user and group: the generated scripts run with the local sh against stand-in account
 * tools on PATH (they record their argv and edit scratch passwd/group files), so create,
 * modify, idempotence and byte-exact argument passing are exercised without touching this
 * machine's accounts. Real accounts are created on fleet hosts in test/e2e.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { group } from '../../../../modules/system/group.js';
import { user } from '../../../../modules/system/user.js';
import { type AnyModule, isStep, type TaskResult } from '../../../../modules/types.js';
import { makeContext, runSh, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
let env: Record<string, string>;

// Stand-ins read/write $FAKE_ETC/{passwd,group}; every call appends "tool\0arg\0...\x1e" to the log.
const TOOL = `#!/bin/sh
t=$(basename "$0")
{ printf '%s' "$t"; for a in "$@"; do printf '\\0%s' "$a"; done; printf '\\036'; } >> "$FAKE_ETC/log"
case "$t" in
  getent)
    f="$FAKE_ETC/$1"; [ -f "$f" ] || exit 2
    if [ $# -lt 2 ]; then cat "$f"; exit 0; fi
    K="$2" awk -F: '$1==ENVIRON["K"]{print; found=1} END{exit found?0:2}' "$f" ;;
  groupadd)
    for n; do :; done; g=1000; [ "$1" = -g ] && g=$2
    printf '%s:x:%s:\\n' "$n" "$g" >> "$FAKE_ETC/group" ;;
  chpasswd) cat > "$FAKE_ETC/chpasswd.in" ;;
  adduser|useradd)
    for n; do :; done
    printf '%s:x:1001:1001::/home/%s:/bin/sh\\n' "$n" "$n" >> "$FAKE_ETC/passwd" ;;
  *) : ;;
esac
exit 0
`;

beforeEach(() => {
  s = scratch();
  writeFileSync(s.path('tool'), TOOL);
  chmodSync(s.path('tool'), 0o755);
  const bin = s.path('bin');
  runShSync(
    `mkdir -p ${bin} && for t in getent groupadd groupmod groupdel useradd usermod userdel; do ln -s ../tool ${bin}/$t; done`,
  );
  // A busybox-like host: no shadow-utils, only adduser/addgroup/deluser/delgroup/chpasswd.
  const bb = s.path('bbin');
  runShSync(
    `mkdir -p ${bb} && for t in getent adduser addgroup deluser delgroup chpasswd; do ln -s ../tool ${bb}/$t; done`,
  );
  writeFileSync(s.path('passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(s.path('group'), 'root:x:0:\nwheel:x:10:root\n');
  writeFileSync(s.path('shadow'), 'root:*:19000:0:99999:7:::\n');
  writeFileSync(s.path('log'), '');
  env = { PATH: `${bin}:${process.env.PATH}`, FAKE_ETC: s.dir };
});
afterEach(() => s.cleanup());

function runShSync(cmd: string): void {
  const r = spawnSync('sh', ['-c', cmd]);
  if (r.status !== 0) throw new Error(String(r.stderr));
}

async function run(
  mod: AnyModule,
  raw: Record<string, unknown>,
  check = false,
): Promise<{ result: TaskResult; script: string }> {
  const v = validateArgs(mod.names[0]!, mod.args, raw);
  expect(v.errors).toEqual([]);
  let next = await mod.plan(v.args, makeContext({ check }));
  let script = '';
  while (isStep(next)) {
    script = next.script;
    const r = await runSh(next.script, next.stdin, env);
    next = await next.parse(r);
  }
  return { result: next, script };
}

function calls(tool: string): string[][] {
  return readFileSync(s.path('log'), 'utf8')
    .split('\x1e')
    .filter(Boolean)
    .map((l) => l.split('\0'))
    .filter((c) => c[0] === tool)
    .map((c) => c.slice(1));
}

describe('group', () => {
  it('creates a missing group with gid and system, then reports ok', async () => {
    const first = await run(group, { name: 'web', gid: 2001, system: true });
    expect(first.result).toMatchObject({
      changed: true,
      name: 'web',
      state: 'present',
      gid: 2001,
      system: true,
    });
    expect(calls('groupadd')).toEqual([['-g', '2001', '-r', 'web']]);
    const second = await run(group, { name: 'web', gid: 2001, system: true });
    expect(second.result.changed).toBe(false);
    expect(calls('groupadd')).toHaveLength(1);
  });

  it('changes the gid of an existing group with groupmod', async () => {
    const r = await run(group, { name: 'wheel', gid: 11 });
    expect(r.result.changed).toBe(true);
    expect(calls('groupmod')).toEqual([['-g', '11', 'wheel']]);
  });

  it('check mode reports the change and runs nothing', async () => {
    const r = await run(group, { name: 'new' }, true);
    expect(r.result.changed).toBe(true);
    expect(calls('groupadd')).toEqual([]);
    expect(readFileSync(s.path('group'), 'utf8')).not.toContain('new');
  });

  it('state=absent deletes only an existing group', async () => {
    expect((await run(group, { name: 'nosuch', state: 'absent' })).result.changed).toBe(false);
    expect((await run(group, { name: 'wheel', state: 'absent' })).result.changed).toBe(true);
    expect(calls('groupdel')).toEqual([['wheel']]);
  });

  it.each(['sp ace', "q'uote", 'd$ollar', 'back`tick`', 'new\nline', 'ünï©ødé', '-dash', '"dq"', '\\back'])(
    'passes the name %j byte-exact',
    async (name) => {
      const r = await run(group, { name });
      expect(r.result.changed).toBe(true);
      expect(calls('groupadd')).toEqual([[name]]);
    },
  );
});

describe('user', () => {
  it('creates a user with every field on the useradd command line', async () => {
    const r = await run(user, {
      name: 'deploy',
      uid: 1500,
      group: 'wheel',
      groups: ['root', 'wheel'],
      comment: 'Deploy User',
      home: '/srv/deploy',
      shell: '/bin/bash',
      password: '$6$salt$hash',
      system: true,
    });
    expect(r.result).toMatchObject({ changed: true, name: 'deploy', state: 'present', system: true });
    expect(calls('useradd')).toEqual([
      [
        '-u',
        '1500',
        '-g',
        'wheel',
        '-G',
        'root,wheel',
        '-c',
        'Deploy User',
        '-d',
        '/srv/deploy',
        '-s',
        '/bin/bash',
        '-p',
        '$6$salt$hash',
        '-r',
        '-m',
        'deploy',
      ],
    ]);
    expect(r.result.password).toBe('NOT_LOGGING_PASSWORD');
  });

  it('reports ok when nothing differs and runs one usermod with only the differences', async () => {
    writeFileSync(s.path('passwd'), 'root:x:0:0:root:/root:/bin/bash\nbob:x:1001:10:Bob:/home/bob:/bin/sh\n');
    const same = await run(user, { name: 'bob', shell: '/bin/sh', comment: 'Bob', group: 'wheel' });
    expect(same.result).toMatchObject({
      changed: false,
      uid: 1001,
      group: 10,
      shell: '/bin/sh',
      home: '/home/bob',
    });
    expect(calls('usermod')).toEqual([]);
    const diff = await run(user, { name: 'bob', shell: '/bin/bash', comment: 'Bob', home: '/home/bob' });
    expect(diff.result.changed).toBe(true);
    expect(calls('usermod')).toEqual([['-s', '/bin/bash', 'bob']]);
  });

  it('groups with append adds only missing memberships; without append replaces the set', async () => {
    writeFileSync(s.path('passwd'), 'bob:x:1001:0::/home/bob:/bin/sh\n');
    writeFileSync(s.path('group'), 'root:x:0:\nwheel:x:10:bob\nadm:x:4:\n');
    expect((await run(user, { name: 'bob', groups: ['wheel'], append: true })).result.changed).toBe(false);
    expect((await run(user, { name: 'bob', groups: 'wheel' })).result.changed).toBe(false);
    const add = await run(user, { name: 'bob', groups: ['adm'], append: true });
    expect(add.result.changed).toBe(true);
    expect(calls('usermod')).toEqual([['-a', '-G', 'adm', 'bob']]);
    const rep = await run(user, { name: 'bob', groups: ['adm'] });
    expect(rep.result.changed).toBe(true);
    expect(calls('usermod')[1]).toEqual(['-G', 'adm', 'bob']);
  });

  it('fails naming a missing group, before changing anything', async () => {
    const r = await run(user, { name: 'bob', groups: ['wheel', 'nosuch'] });
    expect(r.result).toMatchObject({ failed: true, msg: 'Group nosuch does not exist' });
    expect(calls('useradd')).toEqual([]);
  });

  it('update_password=on_create leaves an existing password alone; always changes it', async () => {
    writeFileSync(s.path('passwd'), 'bob:x:1001:0::/home/bob:/bin/sh\n');
    writeFileSync(s.path('shadow'), 'bob:$6$old:19000:0:99999:7:::\n');
    expect(
      (await run(user, { name: 'bob', password: '$6$new', update_password: 'on_create' })).result.changed,
    ).toBe(false);
    expect((await run(user, { name: 'bob', password: '$6$old' })).result.changed).toBe(false);
    expect((await run(user, { name: 'bob', password: '$6$new' })).result.changed).toBe(true);
    expect(calls('usermod')).toEqual([['-p', '$6$new', 'bob']]);
  });

  it('state=absent with remove and force', async () => {
    writeFileSync(s.path('passwd'), 'bob:x:1001:0::/home/bob:/bin/sh\n');
    const r = await run(user, { name: 'bob', state: 'absent', remove: true, force: true });
    expect(r.result).toMatchObject({ changed: true, state: 'absent', remove: true, force: true });
    expect(calls('userdel')).toEqual([['-f', '-r', 'bob']]);
    expect((await run(user, { name: 'nobody-here', state: 'absent' })).result.changed).toBe(false);
  });

  it('check mode plans but does not run useradd', async () => {
    const r = await run(user, { name: 'carol' }, true);
    expect(r.result.changed).toBe(true);
    expect(calls('useradd')).toEqual([]);
  });

  it.each(["Ann O'Neil", 'a $HOME `id` b', 'line1\nline2', 'Zoë ☃', '-c'])(
    'passes comment %j byte-exact',
    async (comment) => {
      await run(user, { name: 'ann', comment, create_home: false });
      expect(calls('useradd')).toEqual([['-c', comment, '-M', 'ann']]);
    },
  );

  it('falls back to busybox adduser/addgroup/chpasswd without shadow-utils', async () => {
    // /usr/sbin and /sbin (where useradd lives here) are left off PATH.
    env = { PATH: `${s.path('bbin')}:/usr/bin:/bin`, FAKE_ETC: s.dir };
    const r = await run(user, {
      name: 'bb',
      uid: 1600,
      group: 'wheel',
      groups: ['root'],
      comment: 'B B',
      shell: '/bin/ash',
      password: '$6$x',
    });
    expect(r.result, JSON.stringify(r.result)).toMatchObject({ changed: true });
    expect(calls('adduser')).toEqual([
      ['-D', '-u', '1600', '-G', 'wheel', '-g', 'B B', '-s', '/bin/ash', 'bb'],
    ]);
    expect(calls('addgroup')).toEqual([['bb', 'root']]);
    expect(readFileSync(s.path('chpasswd.in'), 'utf8')).toBe('bb:$6$x\n');
    const del = await run(user, { name: 'bb', state: 'absent', remove: true });
    expect(del.result, JSON.stringify(del.result)).toMatchObject({ changed: true });
    expect(calls('deluser')).toEqual([['--remove-home', 'bb']]);
  });

  it('rejects a bad update_password choice in validation', () => {
    const v = validateArgs('user', user.args, { name: 'x', update_password: 'sometimes' });
    expect(v.errors.join()).toContain('update_password must be one of: always, on_create');
  });
});
