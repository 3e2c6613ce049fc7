import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quote } from '../../src/shell/quote.js';
import { ConnectionPool } from '../../src/transport/pool.js';
import { connectionSpecFromVars } from '../../src/transport/spec.js';
import { SshConnection, type SshOptions } from '../../src/transport/ssh.js';
import { type ConnectionSpec, UnreachableError } from '../../src/transport/types.js';
import { DPW_PASSWORD, type Fleet } from '../lab/fleet.js';
import { useFleet } from '../lab/use-fleet.js';

let fleet: Fleet;
let tmp: string;
// No agent and an empty home: only what a test passes may authenticate.
let sshOpts: SshOptions;
const open: SshConnection[] = [];
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  fleet = await useFleet();
  tmp = mkdtempSync(join(tmpdir(), 'drover-transport-e2e-'));
  sshOpts = { agentSocket: null, home: join(tmp, 'home') };
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  // Hosts whose files these tests changed go back to pristine for the test files after this one.
  for (const h of ['h02', 'h07', 'h09', 'h11', 'h13']) await fleet.resetHost(h);
  rmSync(tmp, { recursive: true, force: true });
});

function spec(name: string, vars: Record<string, unknown> = {}): ConnectionSpec {
  const h = fleet.host(name);
  return connectionSpecFromVars(
    name,
    {
      ansible_host: '127.0.0.1',
      ansible_port: h.port,
      ansible_user: 'root',
      ansible_ssh_private_key_file: fleet.keyFile,
      ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHostsFile}`,
      ...vars,
    },
    { sshConfigFiles: [], env: {}, home: join(tmp, 'home') },
  );
}

function conn(s: ConnectionSpec, opts: SshOptions = sshOpts): SshConnection {
  const c = new SshConnection(s, opts);
  open.push(c);
  return c;
}

async function unreachable(p: Promise<unknown>): Promise<UnreachableError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UnreachableError);
    return e as UnreachableError;
  }
  throw new Error('expected UnreachableError, but it connected');
}

describe('SshConnection on the fleet', () => {
  it('connects once and measures exec cost per command on loopback', async () => {
    const c = conn(spec('h01'));
    const t0 = performance.now();
    await c.connect();
    const connectMs = performance.now() - t0;
    expect((await c.run('hostname')).stdout).toBe('h01\n');
    const n = 200;
    const t1 = performance.now();
    for (let i = 0; i < n; i++) await c.run('true');
    const execMs = (performance.now() - t1) / n;
    const t2 = performance.now();
    await Promise.all(Array.from({ length: n }, () => c.run('true')));
    const parallelMs = (performance.now() - t2) / n;
    console.log(
      `[transport bench] connect ${connectMs.toFixed(1)} ms; sequential exec ${execMs.toFixed(2)} ms/cmd; ` +
        `${n} parallel over one connection ${parallelMs.toFixed(2)} ms/cmd`,
    );
    // setNoDelay matters: with Nagle an exec costs ~47 ms.
    expect(execMs).toBeLessThan(25);
  });

  it('passes 1 MiB stdin and 10 MiB stdout byte-exact', async () => {
    const c = conn(spec('h02'));
    const input = randomBytes(1024 * 1024);
    const r = await c.run('sha256sum | cut -d" " -f1', { stdin: input });
    expect(r.stdout.trim()).toBe(sha(input));
    await c.run('head -c 7900000 /dev/urandom | base64 > /tmp/big.txt');
    const remoteSha = (await c.run('sha256sum /tmp/big.txt')).stdout.split(' ')[0];
    const big = await c.run('cat /tmp/big.txt');
    expect(big.stdout.length).toBeGreaterThan(10 * 1024 * 1024);
    expect(sha(big.stdout)).toBe(remoteSha);
    // binary both ways through put/get
    const bin = randomBytes(3 * 1024 * 1024);
    await c.put(bin, '/tmp/bin.dat', { mode: 0o600 });
    expect((await c.run('stat -c %a /tmp/bin.dat; sha256sum < /tmp/bin.dat')).stdout).toBe(
      `600\n${sha(bin)}  -\n`,
    );
    const back = join(tmp, 'bin.back');
    await c.get('/tmp/bin.dat', back);
    expect(sha(readFileSync(back))).toBe(sha(bin));
  });

  it('env vars and odd quoting arrive byte-exact', async () => {
    const c = conn(spec('h02'));
    const odd = `it's "q" $HOME \`id\` \\ ; | & * ? ~ ü€ \t\nline2 %s`;
    const r = await c.run(
      `printf '%s|' "$ODD" "$EMPTY"; printf '%s' ${"'"}${odd.replaceAll("'", `'\\''`)}${"'"} | sha256sum`,
      {
        env: { ODD: odd, EMPTY: '' },
      },
    );
    expect(r.stdout).toBe(`${odd}||${sha(odd)}  -\n`);
  });

  it('runs 50 commands in parallel over one connection within the channel bound', async () => {
    const c = conn({ ...spec('h03'), maxChannels: 8 });
    await c.connect();
    const t = performance.now();
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.run(`sleep 0.2; echo ${i}`)));
    const ms = performance.now() - t;
    expect(rs.map((r) => r.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i}\n`));
    expect(rs.every((r) => r.rc === 0)).toBe(true);
    // 50 runs, 8 at a time: at least 7 waves of 0.2 s. Unbounded they would take ~0.2 s.
    expect(ms).toBeGreaterThan(7 * 200 - 50);
  });

  it('survives a server with MaxSessions below the channel limit (retries, then lowers the limit)', async () => {
    // The fleet allows 100 sessions; this needs an sshd of its own with only 3.
    const d = mkdtempSync(join(tmpdir(), 'drover-maxsessions-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'hostkey')]);
    copyFileSync(`${fleet.keyFile}.pub`, join(d, 'authorized_keys'));
    const port = await new Promise<number>((res) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const sshd = spawn(
      '/usr/sbin/sshd',
      [
        '-D',
        '-e',
        '-p',
        String(port),
        '-h',
        join(d, 'hostkey'),
        '-o',
        'ListenAddress=127.0.0.1',
        '-o',
        'UsePAM=no',
        '-o',
        'PidFile=none',
        '-o',
        'StrictModes=no',
        '-o',
        `AuthorizedKeysFile=${join(d, 'authorized_keys')}`,
        '-o',
        'MaxSessions=3',
        '-o',
        'PermitRootLogin=prohibit-password',
        '-o',
        'LogLevel=ERROR',
      ],
      { stdio: 'ignore' },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const logs: string[] = [];
      const c = conn(
        { ...spec('h01'), port, hostKeyChecking: 'off' },
        { ...sshOpts, log: (l) => logs.push(l) },
      );
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.run(`sleep 0.05; echo ${i}`)));
      expect(rs.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
      expect(logs.some((l) => /limiting this connection to [23] channels/.test(l))).toBe(true);
      await c.close();
    } finally {
      sshd.kill('SIGTERM');
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('kills a command at its timeout and keeps the connection usable', async () => {
    const c = conn(spec('h03'));
    const t = performance.now();
    const r = await c.run('sleep 31.5', { timeoutMs: 300 });
    expect(performance.now() - t).toBeLessThan(3000);
    expect(r).toMatchObject({ rc: 124, timedOut: true });
    expect(r.stderr).toContain('timed out after 0.3s');
    expect((await c.run('echo still')).stdout).toBe('still\n');
    // sshd delivers the KILL signal: the remote sleep is gone
    await new Promise((res) => setTimeout(res, 300));
    expect((await c.run('ps -eo args | grep -c "^sleep 31.5" || true')).stdout.trim()).toBe('0');
  });
});

/** A TCP proxy that delays every chunk by `oneWayMs` in each direction (no tc netem here). */
function delayProxy(targetPort: number, oneWayMs: number): Promise<{ port: number; server: Server }> {
  return new Promise((resolve) => {
    const server = createServer((down) => {
      down.setNoDelay(true);
      const up = netConnect({ host: '127.0.0.1', port: targetPort });
      up.setNoDelay(true);
      // Equal delays keep chunk order: Node runs same-duration timers in creation order.
      down.on('data', (c) => setTimeout(() => up.write(c), oneWayMs));
      up.on('data', (c) => setTimeout(() => down.write(c), oneWayMs));
      const end = (): void => {
        up.destroy();
        down.destroy();
      };
      down.on('close', end);
      up.on('close', end);
      down.on('error', end);
      up.on('error', end);
    });
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as { port: number }).port, server }),
    );
  });
}

describe('exec channels vs session shell', () => {
  it('session mode keeps stdin, env, become and rc working', async () => {
    const c = conn(spec('h11', { ansible_user: 'drover' }), { ...sshOpts, session: true });
    const payload = randomBytes(500_000);
    const r = await c.run('printf "%s|" "$V"; sha256sum | cut -d" " -f1; echo e >&2; exit 4', {
      stdin: payload,
      env: { V: `it's $x` },
    });
    expect(r).toEqual({ rc: 4, stdout: `it's $x|${sha(payload)}\n`, stderr: 'e\n' });
    const b = await c.run('whoami; cat', { become: { method: 'sudo', user: 'root' }, stdin: 'in' });
    expect(b).toMatchObject({ rc: 0, stdout: 'root\nin' });
    const big = await c.run('head -c 10485760 /dev/zero | tr "\\0" z');
    expect(big.stdout.length).toBe(10 * 1024 * 1024);
    expect(big.stdout.replaceAll('z', '')).toBe('');
    // scripts beyond the argv limit, with and without become
    const data = randomBytes(400_000).toString('hex');
    const bigScript = `d='${data}'\nprintf %s "$d" | sha256sum | cut -d" " -f1; cat`;
    expect((await c.run(bigScript, { stdin: 'p' })).stdout).toBe(`${sha(data)}\np`);
    expect((await c.run(bigScript, { stdin: 'q', become: { method: 'sudo', user: 'root' } })).stdout).toBe(
      `${sha(data)}\nq`,
    );
    const exec = conn(spec('h11', { ansible_user: 'dpw' }));
    const viaPw = await exec.run(bigScript, {
      stdin: 'r',
      become: { method: 'sudo', user: 'root', password: DPW_PASSWORD },
    });
    expect(viaPw).toMatchObject({ rc: 0, stdout: `${sha(data)}\nr` });
    // a script that leaves its stdin unread must not disturb the next one
    await c.run('true', { stdin: 'unread'.repeat(1000) });
    expect((await c.run('cat', { stdin: 'next' })).stdout).toBe('next');
  });

  // Prints "session" when the script's parent is the session driver, "exec" when it runs on its
  // own channel (the bracket keeps the pattern from matching this script's own text).
  const whereFrom = (pid: string): string =>
    `if tr '\\0' ' ' < /proc/${pid}/cmdline | grep -q 'drover-sessio[n]'; then echo session; else echo exec; fi`;
  const WHERE = whereFrom('$PPID');
  // under sudo the parent is sudo: look one level further up
  const WHERE_BECOME = whereFrom("$(cut -d' ' -f4 /proc/$PPID/stat)");
  // The first run of a connection takes an exec channel while the session opens (2 round
  // trips either way): run until the session serves one.
  const sessionServes = async (c: SshConnection): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      if ((await c.run(WHERE)).stdout === 'session\n') return;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error('the session never served a run');
  };

  it('session mode: concurrent runs, a timeout and a become password use exec channels; the session stays usable', async () => {
    const c = conn(spec('h17', { ansible_user: 'dpw' }), { ...sshOpts, session: true });
    expect((await c.run(WHERE)).stdout).toBe('exec\n');
    await sessionServes(c);
    // Twelve at once (the free strategy, async tasks): one takes the session, the rest get
    // exec channels; no output strays into another run.
    const outs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        c.run(`printf '%s' ${i}; cat; echo; echo err${i} >&2; ${WHERE}`, { stdin: `-in${i}` }),
      ),
    );
    const where = outs.map((r, i) => {
      const [line, kind] = r.stdout.split('\n');
      expect(line).toBe(`${i}-in${i}`);
      expect(r).toMatchObject({ rc: 0, stderr: `err${i}\n` });
      return kind;
    });
    expect(where.filter((k) => k === 'session').length).toBeGreaterThanOrEqual(1);
    expect(where.filter((k) => k === 'exec').length).toBeGreaterThanOrEqual(1);
    // A timeout needs the run's own process group: an exec channel, killed, connection kept.
    const timed = await c.run(`${WHERE}; sleep 30`, { timeoutMs: 500 });
    expect(timed).toMatchObject({ rc: 124, timedOut: true, stdout: 'exec\n' });
    // A become password needs the run's own stdin for the prompt: an exec channel.
    const pw = await c.run(`whoami; cat; echo; ${WHERE_BECOME}`, {
      become: { method: 'sudo', user: 'root', password: DPW_PASSWORD },
      stdin: 'pw-in',
    });
    expect(pw).toMatchObject({ rc: 0, stdout: 'root\npw-in\nexec\n' });
    const nopw = conn(spec('h17', { ansible_user: 'drover' }), { ...sshOpts, session: true });
    await sessionServes(nopw);
    const sudo = await nopw.run(`whoami; ${WHERE_BECOME}`, { become: { method: 'sudo', user: 'root' } });
    expect(sudo).toMatchObject({ rc: 0, stdout: 'root\nsession\n' });
    // Plain runs go on through the same session.
    expect((await c.run(`echo still; ${WHERE}`)).stdout).toBe('still\nsession\n');
  });

  it('session mode: output a background process writes later reaches no run', async () => {
    const c = conn(spec('h17'), { ...sshOpts, session: true });
    await sessionServes(c);
    const r = await c.run(`(sleep 0.4; echo LEAK; echo LEAK2 >&2) & echo started; ${WHERE}`);
    expect(r).toEqual({ rc: 0, stdout: 'started\nsession\n', stderr: '' });
    await new Promise((res) => setTimeout(res, 800));
    expect(await c.run(`echo next; ${WHERE}`)).toEqual({ rc: 0, stdout: 'next\nsession\n', stderr: '' });
  });

  it('session mode: a connection dropped under a running command rejects with UnreachableError, then a new session serves', async () => {
    const c = conn(spec('h17'), { ...sshOpts, session: true });
    await sessionServes(c);
    const running = unreachable(c.run(`${WHERE} >&2; sleep 20`));
    await new Promise((res) => setTimeout(res, 200));
    await fleet.stopHost('h17');
    expect((await running).message).toContain('dropped');
    await fleet.startHost('h17');
    expect((await c.run('hostname')).stdout).toBe('h17\n');
    await sessionServes(c);
  });

  it("session mode: login-script output is not a run's; a target where the driver cannot start uses exec channels", async () => {
    const root = conn(spec('h17'));
    const bashrc = (await root.run('cat ~drover/.bashrc')).stdout;
    try {
      // bash runs ~/.bashrc for ssh commands: what it prints precedes the driver's ready line
      await root.run('echo "echo hello-from-bashrc" >> ~drover/.bashrc');
      const chatty = conn(spec('h17', { ansible_user: 'drover' }), { ...sshOpts, session: true });
      await chatty.run('true').catch(() => undefined);
      for (let i = 0; i < 50 && !(await chatty.run(WHERE)).stdout.endsWith('session\n'); i++) {
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(await chatty.run(`echo x; ${WHERE}`)).toEqual({ rc: 0, stdout: 'x\nsession\n', stderr: '' });
      // a login shell that cannot run the driver: it ends before its ready line, nothing ran
      await root.run(
        `printf '%s' ${quote(bashrc)} > ~drover/.bashrc; echo 'case $BASH_EXECUTION_STRING in *DROVER-SESSION-READY*) exit 3 ;; esac' >> ~drover/.bashrc`,
      );
      const logs: string[] = [];
      const c = conn(spec('h17', { ansible_user: 'drover' }), {
        ...sshOpts,
        session: true,
        log: (l) => logs.push(l),
      });
      expect(await c.run(`echo once >> /tmp/drover-once; cat /tmp/drover-once; ${WHERE}`)).toMatchObject({
        rc: 0,
        stdout: 'once\nexec\n',
      });
      // every later run too, once the failed start is known
      for (let i = 0; i < 50 && !logs.join('\n').includes('session shell did not start'); i++) {
        expect((await c.run(WHERE)).stdout).toBe('exec\n');
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(logs.join('\n')).toContain('session shell did not start');
      expect((await c.run(WHERE)).stdout).toBe('exec\n');
    } finally {
      await root.run(`printf '%s' ${quote(bashrc)} > ~drover/.bashrc; rm -f /tmp/drover-once`);
    }
  });

  it('measures both at 0 and 50 ms RTT (printed); auto takes the session over the slow link', async () => {
    const target = fleet.host('h12');
    const proxy = await delayProxy(target.port, 25);
    const lines: string[] = [];
    try {
      for (const [label, port, n] of [
        ['loopback', target.port, 50],
        ['50ms-rtt', proxy.port, 10],
      ] as const) {
        for (const session of [false, true]) {
          const c = conn({ ...spec('h12'), port, hostKeyChecking: 'off' }, { ...sshOpts, session });
          const t0 = performance.now();
          await c.connect();
          const connectMs = performance.now() - t0;
          await c.run('true');
          const t = performance.now();
          for (let i = 0; i < n; i++) await c.run('true');
          const ms = (performance.now() - t) / n;
          lines.push(
            `${label} ${session ? 'session' : 'exec   '}: connect ${connectMs.toFixed(0)} ms, ${ms.toFixed(2)} ms/cmd`,
          );
          await c.close();
        }
      }
    } finally {
      proxy.server.close();
    }
    console.log(`[transport bench]\n${lines.join('\n')}`);
    // 'auto' picks exec channels on loopback and the session over the slow link
    const logs: string[] = [];
    const autoFast = conn(spec('h12'), { ...sshOpts, session: 'auto', log: (l) => logs.push(l) });
    await autoFast.run('true');
    const proxy2 = await delayProxy(target.port, 25);
    try {
      const autoSlow = conn(
        { ...spec('h12'), port: proxy2.port, hostKeyChecking: 'off' },
        {
          ...sshOpts,
          session: 'auto',
          log: (l) => logs.push(l),
        },
      );
      await autoSlow.run('true');
      await autoSlow.close();
    } finally {
      proxy2.server.close();
    }
    // Over the slow link 'auto' always takes the session. On loopback it normally keeps exec
    // channels, but a loaded machine can push an empty exec past the threshold, and speed is
    // a benchmark here (printed above, docs/performance.md), never an assertion.
    const decisions = logs
      .filter((l) => l.includes('empty exec took'))
      .map((l) => l.replace(/.*: using /, ''));
    expect(decisions).toHaveLength(2);
    expect(decisions[1]).toBe('a session shell');
  });
});

describe('ConnectionPool on the fleet', () => {
  it('connects 200 connections (10 per host) with bounded handshakes and runs on each', async () => {
    let inFlight = 0;
    let peak = 0;
    const pool = new ConnectionPool({
      maxConcurrentConnects: 16,
      factory: (s) => {
        const c = new SshConnection(s, sshOpts);
        const connect = c.connect.bind(c);
        c.connect = async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          try {
            await connect();
          } finally {
            inFlight--;
          }
        };
        return c;
      },
    });
    const specs = fleet.hosts.flatMap((h) =>
      Array.from({ length: 10 }, (_, i) => ({ ...spec(h.name), host: `${h.name}-${i}` })),
    );
    try {
      const t = performance.now();
      const conns = await Promise.all(specs.map((s) => pool.get(s)));
      const connectMs = performance.now() - t;
      const connectPeak = peak;
      const t2 = performance.now();
      const out = await Promise.all(conns.map((c) => c.run('hostname')));
      const runMs = performance.now() - t2;
      expect(out.map((r) => r.stdout)).toEqual(fleet.hosts.flatMap((h) => Array(10).fill(`${h.name}\n`)));
      expect(connectPeak).toBeLessThanOrEqual(16);
      expect(connectPeak).toBeGreaterThan(1);
      console.log(
        `[transport bench] pool: ${specs.length} connections in ${connectMs.toFixed(0)} ms (16 handshakes at once), ` +
          `one exec on each in ${runMs.toFixed(0)} ms`,
      );
    } finally {
      await pool.closeAll();
    }
  });
});

describe('host keys', () => {
  it('strict refuses a changed key with the fingerprint and the fix', async () => {
    const kh = join(tmp, 'kh_changed');
    const other = join(tmp, 'otherkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const port = fleet.host('h04').port;
    writeFileSync(kh, `[127.0.0.1]:${port} ${readFileSync(`${other}.pub`, 'utf8')}`);
    const e = await unreachable(
      conn(spec('h04', { ansible_ssh_common_args: `-o UserKnownHostsFile=${kh}` })).connect(),
    );
    expect(e.message).toContain('CHANGED');
    expect(e.message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    expect(e.hint).toContain(`ssh-keygen -R '[127.0.0.1]:${port}'`);
    expect(e.hint).toContain('host_key_checking = False');
  });

  it('strict refuses an unknown host and says how to add it', async () => {
    const kh = join(tmp, 'kh_empty');
    writeFileSync(kh, '');
    const port = fleet.host('h04').port;
    const e = await unreachable(
      conn(spec('h04', { ansible_ssh_common_args: `-o UserKnownHostsFile=${kh}` })).connect(),
    );
    expect(e.message).toContain('not known');
    expect(e.hint).toContain(`ssh-keyscan -p ${port} 127.0.0.1 >> ~/.ssh/known_hosts`);
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('accept-new adds the key, which strict then accepts; off checks nothing', async () => {
    const kh = join(tmp, 'kh_new');
    const port = fleet.host('h05').port;
    const c = conn(
      spec('h05', {
        ansible_ssh_common_args: `-o UserKnownHostsFile=${kh} -o StrictHostKeyChecking=accept-new`,
      }),
    );
    expect((await c.run('hostname')).stdout).toBe('h05\n');
    const line = readFileSync(kh, 'utf8');
    expect(line).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${port} ssh-ed25519 `));
    // the line is what OpenSSH expects
    const fleetKey = readFileSync(fleet.knownHostsFile, 'utf8').split('\n')[0]!.split(' ').slice(1).join(' ');
    expect(line.trim().split(' ').slice(1).join(' ')).toBe(fleetKey);
    await conn(spec('h05', { ansible_ssh_common_args: `-o UserKnownHostsFile=${kh}` })).connect();
    const empty = join(tmp, 'kh_off');
    writeFileSync(empty, '');
    await conn(
      spec('h05', {
        ansible_ssh_common_args: `-o UserKnownHostsFile=${empty}`,
        ansible_host_key_checking: false,
      }),
    ).connect();
    expect(readFileSync(empty, 'utf8')).toBe('');
  });
});

describe('authentication and reachability', () => {
  it('a stopped port yields UnreachableError quickly', async () => {
    const port = await new Promise<number>((res) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const t = performance.now();
    const e = await unreachable(conn({ ...spec('h06'), port }).connect());
    expect(performance.now() - t).toBeLessThan(1000);
    expect(e.message).toContain('connection refused');
    expect(e.hint).toContain(`port ${port}`);
  });

  it('retries a refused connect (ansible_ssh_retries) until sshd is back, but not a failed auth', async () => {
    await fleet.stopHost('h19');
    const logs: string[] = [];
    const c = conn(spec('h19', { ansible_ssh_retries: 5 }), {
      ...sshOpts,
      retryPauseScale: 0.1,
      log: (l) => logs.push(l),
    });
    const connected = c.connect();
    await new Promise((r) => setTimeout(r, 250));
    await fleet.startHost('h19');
    await connected;
    expect((await c.run('hostname')).stdout).toBe('h19\n');
    expect(logs.some((l) => l.includes('connection refused') && l.includes('retrying'))).toBe(true);
    const stranger = join(tmp, 'stranger2');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const t = performance.now();
    const e = await unreachable(
      conn(spec('h19', { ansible_ssh_retries: 5, ansible_ssh_private_key_file: stranger }), {
        ...sshOpts,
        retryPauseScale: 10,
      }).connect(),
    );
    expect(performance.now() - t).toBeLessThan(3000);
    expect(e.message).toContain('authentication failed');
    const down = new SshConnection(
      { ...spec('h19'), port: 1, connectRetries: 2 },
      { ...sshOpts, retryPauseScale: 0.01 },
    );
    const gaveUp = await unreachable(down.connect());
    expect(gaveUp.message).toContain('(after 3 attempts)');
  });

  it('auth failure names the user and the methods tried', async () => {
    const stranger = join(tmp, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', stranger]);
    const e = await unreachable(conn(spec('h06', { ansible_ssh_private_key_file: stranger })).connect());
    expect(e.message).toContain('authentication failed for root@127.0.0.1');
    expect(e.message).toContain(`publickey ${stranger}`);
    expect(e.hint).toContain('--private-key');
  });

  it('an encrypted key without a passphrase says so; the passphrase callback unlocks it', async () => {
    const enc = join(tmp, 'fleet_key_encrypted');
    copyFileSync(fleet.keyFile, enc);
    execFileSync('ssh-keygen', ['-q', '-p', '-N', 'open sesame', '-f', enc]);
    const e = await unreachable(conn(spec('h06', { ansible_ssh_private_key_file: enc })).connect());
    expect(e.message).toContain(`key ${enc} is encrypted and no passphrase was given`);
    expect(e.message).toContain('ssh-add');
    const asked: string[] = [];
    const c = conn(spec('h06', { ansible_ssh_private_key_file: enc }), {
      ...sshOpts,
      passphrase: async (f) => {
        asked.push(f);
        return 'open sesame';
      },
    });
    expect((await c.run('whoami')).stdout).toBe('root\n');
    expect(asked).toEqual([enc]);
  });

  it('password authentication (ansible_password)', async () => {
    const c = conn(
      spec('h06', {
        ansible_user: 'dpw',
        ansible_password: DPW_PASSWORD,
        ansible_ssh_private_key_file: '/nonexistent',
      }),
    );
    expect((await c.run('whoami')).stdout).toBe('dpw\n');
    const bad = await unreachable(
      conn(
        spec('h06', {
          ansible_user: 'dpw',
          ansible_password: 'nope',
          ansible_ssh_private_key_file: '/nonexistent',
        }),
      ).connect(),
    );
    expect(bad.message).toContain('password');
    expect(bad.message).not.toContain('nope');
  });

  it('reaches a host through a ProxyJump chain', async () => {
    const jump = fleet.host('h07');
    const target = fleet.host('h08');
    const s = spec('h08', {
      ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHostsFile} -J root@127.0.0.1:${jump.port}`,
    });
    expect(s.proxyJump).toEqual([`root@127.0.0.1:${jump.port}`]);
    const c = conn(s);
    expect((await c.run('hostname')).stdout).toBe('h08\n');
    // The target saw the connection come from the jump host's sshd, not from us.
    const seen = (await c.run('echo "$SSH_CONNECTION"')).stdout.trim().split(' ');
    expect(seen[2]).toBe('127.0.0.1');
    expect(seen[3]).toBe(String(target.port));
    // Proof the tunnel is used: a name only the jump host can resolve (its own /etc/hosts).
    const jumpRoot = conn(spec('h07'));
    const name = `only-via-jump-${process.pid}`;
    await jumpRoot.run(`cp /etc/hosts /etc/hosts.drover-bak && echo "127.0.0.1 ${name}" >> /etc/hosts`);
    try {
      const kh = join(tmp, 'kh_jump');
      const args = `-o UserKnownHostsFile=${kh} -o StrictHostKeyChecking=accept-new`;
      const direct = await unreachable(
        conn(spec('h08', { ansible_host: name, ansible_ssh_common_args: args })).connect(),
      );
      expect(direct.message).toContain(`cannot resolve host name ${name}`);
      const via = conn(
        spec('h08', {
          ansible_host: name,
          ansible_ssh_common_args: `${args} -o ProxyJump=root@127.0.0.1:${jump.port}`,
        }),
        sshOpts,
      );
      // Both hops check their keys in kh (one UserKnownHostsFile per spec): accept-new adds both.
      await via.connect();
      expect((await via.run('hostname')).stdout).toBe('h08\n');
      expect(readFileSync(kh, 'utf8')).toContain(`[${name}]:${target.port} ssh-ed25519 `);
    } finally {
      await jumpRoot.run('mv /etc/hosts.drover-bak /etc/hosts');
    }
    // and a dead jump host fails with a message that names it
    const dead = spec('h08', {
      ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHostsFile} -J root@127.0.0.1:1`,
    });
    const e = await unreachable(conn(dead).connect());
    expect(e.message).toContain('jump host');
  });

  it('close() during connect leaves no connection behind; connect() works again after', async () => {
    const c = conn(spec('h18'));
    const first = c.connect().then(
      () => 'connected',
      (e: Error) => e.message,
    );
    await c.close();
    expect(await first).toContain('closed while connecting');
    expect((await c.run('hostname')).stdout).toBe('h18\n');
  });

  it('a connection dropped under a running command rejects with UnreachableError, then reconnects', async () => {
    const c = conn(spec('h20'));
    await c.connect();
    // Observe the rejection at once: it arrives while stopHost is still awaited.
    const running = unreachable(c.run('sleep 20'));
    await new Promise((res) => setTimeout(res, 200));
    await fleet.stopHost('h20');
    const e = await running;
    expect(e.message).toContain('dropped');
    await fleet.startHost('h20');
    expect((await c.run('hostname')).stdout).toBe('h20\n');
  });
});

describe('keys, agent, ssh config and chains', () => {
  it('rsa and ecdsa user keys authenticate (rsa-sha2 signatures against current OpenSSH)', async () => {
    const root = conn(spec('h13'));
    const keys: string[] = [];
    for (const [type, bits] of [
      ['rsa', '3072'],
      ['ecdsa', '256'],
    ] as const) {
      const f = join(tmp, `user_${type}`);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-b', bits, '-N', '', '-f', f]);
      keys.push(f);
    }
    const pubs = keys.map((f) => readFileSync(`${f}.pub`, 'utf8')).join('');
    await root.run(
      'cp /home/drover/.ssh/authorized_keys /tmp/ak.bak && cat >> /home/drover/.ssh/authorized_keys',
      {
        stdin: pubs,
      },
    );
    try {
      for (const f of keys) {
        const c = conn(spec('h13', { ansible_user: 'drover', ansible_ssh_private_key_file: f }));
        expect((await c.run('whoami')).stdout).toBe('drover\n');
      }
    } finally {
      await root.run('cat /tmp/ak.bak > /home/drover/.ssh/authorized_keys && rm /tmp/ak.bak');
    }
  });

  it('authenticates in the flight after NEWKEYS: signed keys, no PK_OK query; a refused key falls through to the next', async () => {
    const wrong = join(tmp, 'not_authorized');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const trace: string[] = [];
    const c = conn(
      { ...spec('h13'), privateKeyFiles: [wrong, fleet.keyFile] },
      // Each line comes after the host's name: 'h13: Outbound: ...'.
      { ...sshOpts, sshDebug: (line) => trace.push(line.replace(/^h13: /, '')) },
    );
    expect((await c.run('whoami')).stdout).toBe('root\n');
    const at = (text: string): number => trace.findIndex((l) => l.includes(text));
    const signed = trace.filter((l) => l === 'Outbound: Sending USERAUTH_REQUEST (publickey)');
    expect(signed).toHaveLength(2);
    expect(trace.some((l) => l.includes('publickey -- check') || l.includes('PK_OK'))).toBe(false);
    // The first request went out before the server accepted the service: no round trip lost.
    expect(at('Sending SERVICE_REQUEST')).toBeGreaterThanOrEqual(0);
    expect(at('Sending USERAUTH_REQUEST (publickey)')).toBeLessThan(at('Received SERVICE_ACCEPT'));
    expect(at('Received USERAUTH_FAILURE')).toBeLessThan(at('Received USERAUTH_SUCCESS'));
  });

  it('uses the default identities in ~/.ssh when no key is given', async () => {
    const home = join(tmp, 'home-with-keys');
    execFileSync('mkdir', ['-p', join(home, '.ssh')]);
    copyFileSync(fleet.keyFile, join(home, '.ssh', 'id_ecdsa')); // any default name; ed25519 inside
    const s = connectionSpecFromVars(
      'h13',
      { ansible_host: '127.0.0.1', ansible_port: fleet.host('h13').port, ansible_user: 'root' },
      { sshConfigFiles: [], env: {}, home, hostKeyChecking: false },
    );
    expect(s.privateKeyFiles).toEqual([]);
    const c = conn(s, { agentSocket: null, home });
    expect((await c.run('whoami')).stdout).toBe('root\n');
    const none = await unreachable(conn(s, { agentSocket: null, home: join(tmp, 'empty-home') }).connect());
    expect(none.message).toContain('authentication failed');
  });

  it('authenticates through ssh-agent (SSH_AUTH_SOCK)', async () => {
    const sock = join(tmp, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    try {
      execFileSync('ssh-add', ['-q', fleet.keyFile], {
        env: { ...process.env, SSH_AUTH_SOCK: sock },
        stdio: 'ignore',
      });
      // no key file at all: only the agent can get us in
      const s = { ...spec('h13'), privateKeyFiles: [] };
      const c = conn(s, { ...sshOpts, agentSocket: sock });
      expect((await c.run('whoami')).stdout).toBe('root\n');
      const without = await unreachable(conn(s, { ...sshOpts, agentSocket: null }).connect());
      expect(without.message).toContain('nothing (no key, agent or password available)');
    } finally {
      process.kill(pid, 'SIGTERM');
    }
  });

  it('~/.ssh/config alias -> HostName, Port, User, IdentityFile, UserKnownHostsFile (hashed)', async () => {
    const h = fleet.host('h14');
    const kh = join(tmp, 'kh_hashed');
    copyFileSync(fleet.knownHostsFile, kh);
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    expect(readFileSync(kh, 'utf8')).not.toContain('127.0.0.1');
    const cfg = join(tmp, 'ssh_config');
    writeFileSync(
      cfg,
      [
        'Host fleet-alias',
        '  HostName 127.0.0.1',
        `  Port ${h.port}`,
        '  User drover',
        `  IdentityFile ${fleet.keyFile}`,
        `  UserKnownHostsFile ${kh}`,
        '  StrictHostKeyChecking yes',
        '',
      ].join('\n'),
    );
    const s = connectionSpecFromVars(
      'web',
      { ansible_host: 'fleet-alias' },
      { sshConfigFiles: [cfg], env: {} },
    );
    expect(s).toMatchObject({
      address: '127.0.0.1',
      port: h.port,
      user: 'drover',
      hostKeyChecking: 'strict',
    });
    const c = conn(s);
    expect((await c.run('whoami; hostname')).stdout).toBe('drover\nh14\n');
  });

  it('a two-hop ProxyJump chain', async () => {
    const a = fleet.host('h15');
    const b = fleet.host('h16');
    const s = spec('h17', {
      ansible_ssh_common_args: `-o UserKnownHostsFile=${fleet.knownHostsFile} -J root@127.0.0.1:${a.port},drover@127.0.0.1:${b.port}`,
    });
    expect(s.proxyJump).toEqual([`root@127.0.0.1:${a.port}`, `drover@127.0.0.1:${b.port}`]);
    const c = conn(s);
    expect((await c.run('hostname')).stdout).toBe('h17\n');
    await c.close();
  });

  it('a port that accepts TCP but never speaks SSH times out with a clear message', async () => {
    const silent = createServer(() => undefined);
    const port = await new Promise<number>((res) =>
      silent.listen(0, '127.0.0.1', () => res((silent.address() as { port: number }).port)),
    );
    try {
      const t = performance.now();
      const e = await unreachable(conn({ ...spec('h13'), port, connectTimeoutMs: 500 }).connect());
      expect(performance.now() - t).toBeLessThan(2500);
      expect(e.message).toContain('handshake');
      expect(e.message).toContain('timed out after 0.5s');
    } finally {
      silent.close();
    }
  });
});

describe('become on the fleet', () => {
  it('drover -> root with passwordless sudo, stdin payload intact', async () => {
    const c = conn(spec('h09', { ansible_user: 'drover' }));
    const payload = randomBytes(200_000);
    const r = await c.run('whoami; sha256sum | cut -d" " -f1', {
      become: { method: 'sudo', user: 'root' },
      stdin: payload,
    });
    expect(r).toMatchObject({ rc: 0, stdout: `root\n${sha(payload)}\n` });
  });

  it('dpw -> root with a sudo password; the payload is written only after success', async () => {
    const c = conn(spec('h09', { ansible_user: 'dpw' }));
    const r = await c.run('whoami; cat', {
      become: { method: 'sudo', user: 'root', password: DPW_PASSWORD },
      stdin: 'payload-after-sudo\n',
      env: { X: 'y' },
    });
    expect(r).toMatchObject({ rc: 0, stdout: 'root\npayload-after-sudo\n', stderr: '' });
    await c.put(Buffer.from('root-owned\n'), '/root/from-dpw', {
      mode: 0o600,
      become: { method: 'sudo', user: 'root', password: DPW_PASSWORD },
    });
    const check = await conn(spec('h09')).run('stat -c "%U %a" /root/from-dpw; cat /root/from-dpw');
    expect(check.stdout).toBe('root 600\nroot-owned\n');
  });

  it('a wrong sudo password fails clearly without echoing it', async () => {
    const c = conn(spec('h09', { ansible_user: 'dpw' }));
    const wrong = `wr'ong"$pw`;
    const r = await c.run('echo RAN', {
      become: { method: 'sudo', user: 'root', password: wrong },
      stdin: 'x',
    });
    expect(r.rc).not.toBe(0);
    expect(r.becomeError).toBe('incorrect sudo password for becoming root');
    expect(r.stdout).not.toContain('RAN');
    expect(`${r.stdout}${r.stderr}`).not.toContain(wrong);
    const none = await c.run('echo RAN', { become: { method: 'sudo', user: 'root' } });
    expect(none.becomeError).toContain('a password is required');
  });

  it('root -> drover with sudo (become_user)', async () => {
    const c = conn(spec('h10'));
    expect((await c.run('whoami; echo "$HOME"', { become: { method: 'sudo', user: 'drover' } })).stdout).toBe(
      'drover\n/home/drover\n',
    );
  });

  it('su: root -> drover without a password, drover -> dpw with one, wrong one fails', async () => {
    const root = conn(spec('h10'));
    expect((await root.run('whoami', { become: { method: 'su', user: 'drover' } })).stdout).toBe('drover\n');
    const drover = conn(spec('h10', { ansible_user: 'drover' }));
    const r = await drover.run('whoami; cat', {
      become: { method: 'su', user: 'dpw', password: DPW_PASSWORD },
      stdin: 'after-su',
    });
    expect(r).toMatchObject({ rc: 0, stdout: 'dpw\nafter-su' });
    const bad = await drover.run('whoami', { become: { method: 'su', user: 'dpw', password: 'bad-pw' } });
    expect(bad.rc).not.toBe(0);
    expect(bad.becomeError).toMatch(/su to dpw failed.*Authentication failure/);
    expect(bad.stderr).not.toContain('bad-pw');
  });
});
