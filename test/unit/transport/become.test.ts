import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBecomeCommand, envExports } from '../../../src/transport/become.js';
import { LocalConnection } from '../../../src/transport/local.js';
import type { Become } from '../../../src/transport/types.js';

const fakeSudo = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'fake-sudo.sh');
const ODD = `p'a"s$s w\`o\\rd;|&*?~ ü€ $(id) %s %u\t!`;
const ODD_SCRIPT = `printf '%s\\n' "it's" "\\"q\\"" '$HOME' "a\\\\b"; echo \`echo tick\`; printf '%s' 'ü€\tend'`;
const conn = new LocalConnection('local-test');
afterAll(() => conn.close());

function sh(script: string): string {
  return execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
}

describe('buildBecomeCommand', () => {
  it('without become runs sh -c with the script quoted byte-exact', async () => {
    const c = buildBecomeCommand(ODD_SCRIPT, undefined);
    expect(c.successMarker).toBeUndefined();
    expect(sh(c.command)).toBe(sh(ODD_SCRIPT));
  });

  it('sudo without password: Ansible default flags -H -S -n, marker first', () => {
    const c = buildBecomeCommand('id', { method: 'sudo', user: 'root' }, undefined, 'N1');
    expect(c.command).toBe(`exec sudo -H -S -n -u root sh -c 'echo DROVER-BECOME-SUCCESS-N1\nid'`);
    expect(c.prompt).toBeUndefined();
  });

  it('sudo with password: drops -n (also inside clusters), adds a random prompt, never puts the password in argv', () => {
    const c = buildBecomeCommand(
      'id',
      {
        method: 'sudo',
        user: 'app user',
        password: ODD,
        flags: '-Hn -S --non-interactive -E',
        exe: '/usr/bin/sudo',
      },
      undefined,
      'N2',
    );
    expect(c.command).toBe(
      `exec /usr/bin/sudo -H -S -E -p '[drover-sudo:N2] password:' -u 'app user' sh -c 'echo DROVER-BECOME-SUCCESS-N2\nid'`,
    );
    expect(c.command).not.toContain('p\'a"s');
    expect(c.prompt?.test('Sorry\n[drover-sudo:N2] password:')).toBe(true);
    expect(c.prompt?.test('[drover-sudo:OTHER] password:')).toBe(false);
    const noS = buildBecomeCommand(
      'id',
      { method: 'sudo', user: 'root', password: 'x', flags: '-H' },
      undefined,
      'N4',
    );
    expect(noS.command).toContain(`sudo -H -S -p '[drover-sudo:N4] password:'`);
    const rand = buildBecomeCommand('id', { method: 'sudo', user: 'root', password: 'x' });
    expect(rand.command).toMatch(/\[drover-sudo:[0-9a-f]{24}\]/);
  });

  it('su: su - user -c with the inner shell quoted twice', () => {
    const c = buildBecomeCommand(`echo "it's"`, { method: 'su', user: 'postgres' }, undefined, 'N3');
    const prefix = 'exec su - postgres -c ';
    expect(c.command.startsWith(prefix)).toBe(true);
    // What su hands to the user's shell, decoded by a real sh, then run by a real sh.
    const word = sh(`printf %s ${c.command.slice(prefix.length)}`);
    expect(sh(word)).toBe(`DROVER-BECOME-SUCCESS-N3\nit's\n`);
    expect(c.prompt?.test('Password: ')).toBe(true);
  });

  it('env travels as exports inside the innermost shell, values byte-exact', async () => {
    expect(() => envExports({ 'BAD-NAME': 'x' })).toThrow(/invalid environment variable name/);
    const env = { A: ODD, B: '', C: 'line1\nline2' };
    const r = await conn.run(`printf '%s|' "$A" "$B" "$C"`, { env });
    expect(r.stdout).toBe(`${ODD}||line1\nline2|`);
  });
});

describe('become conversation over a real process', () => {
  const become = (password?: string): Become => ({
    method: 'sudo',
    user: 'root',
    exe: fakeSudo,
    ...(password !== undefined ? { password } : {}),
  });

  it('writes the odd password only when asked and the payload only after success', async () => {
    const gotDir = mkdtempSync(join(tmpdir(), 'drover-become-'));
    const got = join(gotDir, 'got');
    process.env.FAKE_SUDO_EXPECT = ODD;
    process.env.FAKE_SUDO_GOT = got;
    try {
      const payload = Buffer.from(`payload with ${ODD}\nand\0binary\xff`, 'latin1');
      const r = await conn.run(`${ODD_SCRIPT}; echo; cat | sha256sum`, {
        become: become(ODD),
        stdin: payload,
      });
      expect(r.becomeError).toBeUndefined();
      expect(r.rc).toBe(0);
      const sha = createHash('sha256').update(payload).digest('hex');
      expect(r.stdout).toBe(`${sh(ODD_SCRIPT)}\n${sha}  -\n`);
      expect(r.stderr).toBe('');
      expect(readFileSync(got, 'utf8')).toBe(ODD);
    } finally {
      rmSync(gotDir, { recursive: true, force: true });
      delete process.env.FAKE_SUDO_EXPECT;
      delete process.env.FAKE_SUDO_GOT;
    }
  });

  it('a script too large for argv travels on stdin after the password', async () => {
    process.env.FAKE_SUDO_EXPECT = ODD;
    try {
      const data = 'x'.repeat(300_000);
      const r = await conn.run(`d='${data}'\necho \${#d}; cat`, { become: become(ODD), stdin: 'tail' });
      expect(r).toMatchObject({ rc: 0, stdout: '300000\ntail', stderr: '' });
    } finally {
      delete process.env.FAKE_SUDO_EXPECT;
    }
  });

  it('a wrong password fails clearly, without running the script or echoing the password', async () => {
    process.env.FAKE_SUDO_EXPECT = 'right';
    try {
      const r = await conn.run('echo SHOULD-NOT-RUN', { become: become(ODD), stdin: 'payload' });
      expect(r.rc).not.toBe(0);
      expect(r.becomeError).toBe('incorrect sudo password for becoming root');
      expect(r.stdout).not.toContain('SHOULD-NOT-RUN');
      expect(r.stderr).toContain('incorrect sudo password');
      expect(r.stderr).not.toContain(ODD);
      expect(r.stderr).not.toContain('drover-sudo');
    } finally {
      delete process.env.FAKE_SUDO_EXPECT;
    }
  });

  it('no password where one is needed says how to give one', async () => {
    const r = await conn.run('echo SHOULD-NOT-RUN', { become: become() });
    expect(r.rc).not.toBe(0);
    expect(r.becomeError).toMatch(/sudo to root failed.*a password is required.*ansible_become_password/);
    expect(r.stdout).toBe('');
  });

  it.skipIf(process.getuid?.() !== 0)('real sudo and su from root to another user', async () => {
    const user = execFileSync('sh', ['-c', 'getent passwd nobody >/dev/null && echo nobody'], {
      encoding: 'utf8',
    }).trim();
    const r = await conn.run('id -un; cat', { become: { method: 'sudo', user }, stdin: 'in' });
    expect(r).toMatchObject({ rc: 0, stdout: `${user}\nin` });
    const s = await conn.run('id -un', { become: { method: 'su', user, flags: '-s /bin/sh' } });
    expect(s).toMatchObject({ rc: 0, stdout: `${user}\n` });
  });
});
