import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountsUnder } from '../../src/machine/cleanup.js';
import { findFreePortRange, portFree } from '../../src/machine/ports.js';
import { processesMountingUnder, processesRootedUnder } from '../../src/machine/processes.js';
import { DPW_PASSWORD, type Fleet, startFleet } from '../lab/fleet.js';
import { repoRoot } from '../lab/repo-root.js';
import { runCommand, runSsh, useFleet } from '../lab/use-fleet.js';

/** Reads the SSH identification line a server sends first. */
function banner(port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let buf = '';
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new Error(`no banner from port ${port} in ${timeoutMs} ms`));
    });
    sock.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        sock.destroy();
        resolve(buf.slice(0, nl).trim());
      }
    });
    sock.once('error', reject);
  });
}

/** Nothing of the dir is left: no process inside, no namespace mounting it, no mount here. */
async function leftovers(dir: string): Promise<{ rooted: number[]; namespaced: number[]; mounts: string[] }> {
  const procMounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
  return {
    rooted: await processesRootedUnder([dir]),
    namespaced: await processesMountingUnder(dir),
    mounts: [...(await mountsUnder(dir)), ...procMounts],
  };
}

const NOTHING = { rooted: [], namespaced: [], mounts: [] };

describe('shared e2e fleet', () => {
  let fleet: Fleet;
  const touched = new Set<string>();

  beforeAll(async () => {
    fleet = await useFleet();
  });

  afterAll(async () => {
    // Other e2e files share this fleet: give back the hosts this file wrote on as new.
    for (const name of touched) await fleet.resetHost(name);
  });

  it('has 20 hosts on consecutive ports, with inventory, known_hosts and ansible.cfg', async () => {
    expect(fleet.hosts).toHaveLength(20);
    expect(fleet.hosts.map((h) => h.port)).toEqual(
      Array.from({ length: 20 }, (_, i) => fleet.info.basePort + i),
    );
    const inv = await readFile(fleet.inventoryFile, 'utf8');
    expect(inv).toContain('[fleet]');
    for (const h of fleet.hosts) {
      expect(inv).toMatch(
        new RegExp(`^${h.name} ansible_host=127.0.0.1 ansible_port=${h.port} ansible_user=root`, 'm'),
      );
    }
    const kh = await readFile(fleet.knownHostsFile, 'utf8');
    expect(kh.trim().split('\n')).toHaveLength(20);
    expect(kh).toContain(`[127.0.0.1]:${fleet.info.basePort + 19} ssh-ed25519 `);
    expect(await readFile(fleet.ansibleCfgFile, 'utf8')).toContain(`control_path_dir = ${fleet.dir}/cp`);
    const viaConfig = await runCommand('ssh', [
      '-F',
      fleet.info.sshConfigFile,
      '-o',
      'BatchMode=yes',
      'h03',
      'hostname',
    ]);
    expect(viaConfig).toMatchObject({ code: 0, stdout: 'h03\n' });
  });

  it('every host answers ssh (OpenSSH client, strict host key check) with its own hostname', async () => {
    const results = await Promise.all(
      fleet.hosts.map((h) => runSsh(fleet, h.name, 'hostname; cat /etc/hostname')),
    );
    results.forEach((r, i) => {
      const name = fleet.hosts[i]?.name;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${name}\n${name}\n`);
    });
  });

  it('a host sees only its own processes (own PID namespace)', async () => {
    const r = await runSsh(fleet, 'h01', 'ps -e -o pid= -o comm=');
    expect(r.code).toBe(0);
    const pids = r.stdout.trim().split('\n');
    expect(pids[0]?.trim()).toMatch(/^1 sshd$/);
    expect(pids.length).toBeLessThan(10);
  });

  it('a write on one host is invisible on another and on the machine', async () => {
    const file = `/etc/drover-lab-probe-${randomBytes(4).toString('hex')}`;
    touched.add('h01');
    const w = await runSsh(fleet, 'h01', `echo hello > ${file} && cat ${file}`);
    expect(w.stdout).toBe('hello\n');
    const other = await runSsh(fleet, 'h02', `test -e ${file}; echo $?`);
    expect(other.stdout).toBe('1\n');
    expect(existsSync(file)).toBe(false);
    expect(await readFile(join(fleet.host('h01').upperDir, file), 'utf8')).toBe('hello\n');
  });

  it("hosts cannot see the fleet dir (keys, other hosts' layers) through the lower layer", async () => {
    expect(existsSync(fleet.keyFile)).toBe(true);
    const r = await runSsh(fleet, 'h02', `ls -A ${fleet.dir} | wc -l; test -e ${fleet.keyFile}; echo $?`);
    expect(r).toMatchObject({ code: 0, stdout: '0\n1\n' });
  });

  it('drover has passwordless sudo; dpw needs its password', async () => {
    const drover = await runSsh(fleet, 'h03', 'id -un; sudo -n id -un', { user: 'drover' });
    expect(drover).toMatchObject({ code: 0, stdout: 'drover\nroot\n' });
    const dpwNoPw = await runSsh(fleet, 'h03', 'sudo -n true', { user: 'dpw' });
    expect(dpwNoPw.code).not.toBe(0);
    expect(dpwNoPw.stderr).toContain('password is required');
    const dpwPw = await runSsh(fleet, 'h03', `sudo -S -p '' id -un`, {
      user: 'dpw',
      input: `${DPW_PASSWORD}\n`,
    });
    expect(dpwPw).toMatchObject({ code: 0, stdout: 'root\n' });
    const dpwBad = await runSsh(fleet, 'h03', `sudo -S -p '' id -un`, { user: 'dpw', input: 'wrong\n' });
    expect(dpwBad.code).not.toBe(0);
  });

  it('dpw can log in with its password too', async () => {
    // SSH_ASKPASS feeds the password to the OpenSSH client without a terminal.
    const askpass = join(fleet.dir, 'askpass-dpw.sh');
    await writeFile(askpass, `#!/bin/sh\necho '${DPW_PASSWORD}'\n`, { mode: 0o700 });
    const h = fleet.host('h04');
    const r = await runCommand(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-o',
        `UserKnownHostsFile=${fleet.knownHostsFile}`,
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'PreferredAuthentications=password',
        '-o',
        'NumberOfPasswordPrompts=1',
        '-p',
        String(h.port),
        'dpw@127.0.0.1',
        'id -un',
      ],
      { env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } },
    );
    expect(r).toMatchObject({ code: 0, stdout: 'dpw\n' });
  });

  it('digest is stable across logins and sudo, and changes after a write', async () => {
    touched.add('h05');
    const before = await fleet.snapshot('h05');
    const d0 = await fleet.digest('h05');
    for (const user of ['root', 'drover', 'dpw']) {
      const r = await runSsh(fleet, 'h05', 'cat /etc/hostname >/dev/null; sudo -n true 2>/dev/null; true', {
        user,
      });
      expect(r.code).toBe(0);
    }
    // A password sudo (first use: no lecture file, the timestamp lives on the /run tmpfs).
    const pw = await runSsh(fleet, 'h05', `sudo -S -p '' id -un`, {
      user: 'dpw',
      input: `${DPW_PASSWORD}\n`,
    });
    expect(pw.stdout).toBe('root\n');
    const after = await fleet.snapshot('h05');
    expect(fleet.diff(before, after)).toEqual({ added: [], removed: [], changed: [] });
    expect(await fleet.digest('h05')).toBe(d0);

    await runSsh(fleet, 'h05', 'mkdir -p /opt/probe && echo 1 > /opt/probe/f');
    const d1 = await fleet.digest('h05');
    expect(d1).not.toBe(d0);
    expect(fleet.diff(after, await fleet.snapshot('h05')).added).toEqual(
      existsSync('/opt') ? ['opt/probe', 'opt/probe/f'] : ['opt', 'opt/probe', 'opt/probe/f'],
    );

    await runSsh(fleet, 'h05', 'chmod 600 /opt/probe/f');
    const d2 = await fleet.digest('h05');
    expect(d2).not.toBe(d1);
    await runSsh(fleet, 'h05', 'chown drover /opt/probe/f');
    const d3 = await fleet.digest('h05');
    expect(d3).not.toBe(d2);
    // Deleting a lower-layer file leaves a whiteout: a change too.
    await runSsh(fleet, 'h05', 'rm /etc/issue.net');
    expect(fleet.diff(await fleet.snapshot('h05'), before).removed).toContain('etc/issue.net');
  });

  it('a temp file written and removed is no change; a directory removed and made again is', async () => {
    touched.add('h10');
    const d0 = await fleet.digest('h10');
    const r = await runSsh(
      fleet,
      'h10',
      't=$(mktemp /tmp/x.XXXXXX) && echo x > "$t" && rm "$t" && ls -d /tmp',
    );
    expect(r.code).toBe(0);
    // /tmp was copied up into the upper layer, but it is the same as before.
    expect(existsSync(join(fleet.host('h10').upperDir, 'tmp'))).toBe(true);
    expect(await fleet.digest('h10')).toBe(d0);
    await runSsh(fleet, 'h10', 'rm -rf /etc/apt && mkdir /etc/apt && chmod 755 /etc/apt');
    expect(await fleet.digest('h10')).not.toBe(d0);
  });

  it('stopHost, startHost and resetHost', async () => {
    const h = fleet.host('h06');
    touched.add('h06');
    await runSsh(fleet, 'h06', 'echo kept > /root/kept');
    await fleet.stopHost('h06');
    expect(await fleet.isRunning('h06')).toBe(false);
    expect(await portFree(h.port)).toBe(true);
    expect(await processesRootedUnder([h.hostDir])).toEqual([]);
    const down = await runSsh(fleet, 'h06', 'true', { timeoutMs: 10_000 });
    expect(down.code).toBe(255);
    // Neighbours are untouched.
    expect((await runSsh(fleet, 'h07', 'hostname')).stdout).toBe('h07\n');

    await fleet.startHost('h06');
    expect(await fleet.isRunning('h06')).toBe(true);
    expect(await runSsh(fleet, 'h06', 'hostname; cat /root/kept')).toMatchObject({
      code: 0,
      stdout: 'h06\nkept\n',
    });

    await fleet.resetHost('h06');
    const r = await runSsh(fleet, 'h06', 'hostname; test -e /root/kept; echo $?');
    expect(r).toMatchObject({ code: 0, stdout: 'h06\n1\n' });
  });

  it('ansible-core uses the fleet through the generated inventory and ansible.cfg', async () => {
    const r = await runCommand('ansible', ['fleet', '-l', 'h08,h09', '-m', 'ping', '-o'], {
      env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, ANSIBLE_NOCOLOR: '1' },
      timeoutMs: 90_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^h08 \| SUCCESS/m);
    expect(r.stdout).toMatch(/^h09 \| SUCCESS/m);
  });
});

describe('own fleets', () => {
  const root = repoRoot();

  it('boots 100 hosts, all answer, and stopping leaves nothing', async () => {
    const dir = join(root, '.lab', 'e2e-100');
    const t0 = performance.now();
    const fleet = await startFleet({
      count: 100,
      dir,
      basePort: await findFreePortRange(100, 22600),
      prefix: 'm',
    });
    const bootMs = performance.now() - t0;
    try {
      expect(fleet.hosts).toHaveLength(100);
      const banners = await Promise.all(fleet.hosts.map((h) => banner(h.port)));
      for (const b of banners) expect(b).toMatch(/^SSH-2\.0-OpenSSH/);
      for (const name of ['m001', 'm050', 'm100']) {
        expect(await runSsh(fleet, name, 'hostname')).toMatchObject({ code: 0, stdout: `${name}\n` });
      }
      const before = await leftovers(dir);
      expect(before.rooted.length).toBeGreaterThanOrEqual(100);
      expect(before.namespaced.length).toBeGreaterThanOrEqual(100);
    } finally {
      await fleet.stop();
    }
    expect(await leftovers(dir)).toEqual(NOTHING);
    for (const h of fleet.hosts) expect(await portFree(h.port)).toBe(true);
    console.log(`100 hosts booted in ${Math.round(bootMs)} ms`);
  });

  it('a Fleet replaced by a newer startFleet in its dir does not stop the newer one', async () => {
    const dir = join(root, '.lab', 'e2e-replace');
    const old = await startFleet({ count: 1, dir, basePort: await findFreePortRange(1, 22900) });
    const port = await findFreePortRange(1, 22901);
    const now = await startFleet({ count: 1, dir, basePort: port });
    try {
      expect(await old.isCurrent()).toBe(false);
      await old.stop();
      expect(await now.isRunning('h01')).toBe(true);
      expect((await banner(port)).startsWith('SSH-2.0-')).toBe(true);
    } finally {
      await now.stop();
    }
    expect(await leftovers(dir)).toEqual(NOTHING);
  });

  it('refuses to boot on ports something else listens on, before booting anything', async () => {
    const dir = join(root, '.lab', 'e2e-busy');
    const base = await findFreePortRange(3, 22950);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen({ port: base + 2, host: '127.0.0.1' }, () => r()));
    try {
      await expect(startFleet({ count: 3, dir, basePort: base })).rejects.toThrow(
        new RegExp(`ports in use on 127.0.0.1: ${base + 2} `),
      );
      expect(await processesRootedUnder([dir])).toEqual([]);
      expect(await portFree(base)).toBe(true);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  const cli = join(root, 'dist', 'test', 'lab', 'cli.js');

  function launch(args: string[]): { pid: number; output: () => string; exited: Promise<number | null> } {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    return { pid: child.pid ?? 0, output: () => out, exited };
  }

  async function until(
    check: () => boolean | Promise<boolean>,
    what: string,
    ms = 20_000,
    output: () => string = () => '',
  ): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output:\n${output()}`);
      await sleep(10);
    }
  }

  it('`down` after a kill -9 of a holding `up` leaves no process and no mount', async () => {
    expect(existsSync(cli), 'run `npm run build` first').toBe(true);
    const dir = join(root, '.lab', 'e2e-crash');
    const base = await findFreePortRange(3, 22800);
    const up = launch(['up', '3', '--hold', '--dir', dir, '--base-port', String(base)]);
    await until(() => up.output().includes('holding'), '`up` to report its hosts', 20_000, up.output);
    process.kill(up.pid, 'SIGKILL');
    await up.exited;
    // The trap this guards against: the hosts outlive their launcher.
    expect((await processesRootedUnder([dir])).length).toBeGreaterThanOrEqual(3);
    expect((await banner(base)).startsWith('SSH-2.0-')).toBe(true);

    const down = await runCommand(process.execPath, [cli, 'down', '--dir', dir]);
    expect(down.code).toBe(0);
    expect(await leftovers(dir)).toEqual(NOTHING);
    for (const port of [base, base + 1, base + 2]) expect(await portFree(port)).toBe(true);
  });

  it('`down` after a kill -9 of `up` in the middle of booting leaves nothing', async () => {
    const dir = join(root, '.lab', 'e2e-crash-mid');
    const base = await findFreePortRange(40, 22810);
    const up = launch(['up', '40', '--dir', dir, '--base-port', String(base)]);
    await until(() => existsSync(join(dir, 'hosts', 'h01', 'host.json')), 'the first host to start booting');
    process.kill(up.pid, 'SIGKILL');
    await up.exited;
    expect(up.output()).not.toContain('hosts up');

    const down = await runCommand(process.execPath, [cli, 'down', '--dir', dir]);
    expect(down.code).toBe(0);
    expect(await leftovers(dir)).toEqual(NOTHING);
    for (let port = base; port < base + 40; port++) expect(await portFree(port)).toBe(true);
  });
});
