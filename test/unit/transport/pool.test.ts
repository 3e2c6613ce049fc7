import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { FakeConnection } from '../../../src/transport/fake.js';
import { LocalConnection } from '../../../src/transport/local.js';
import { ConnectionPool, createConnection } from '../../../src/transport/pool.js';
import { SshConnection } from '../../../src/transport/ssh.js';
import { type ConnectionSpec, UnreachableError } from '../../../src/transport/types.js';

const spec = (host: string, connection = 'ssh'): ConnectionSpec => ({
  host,
  connection,
  address: '127.0.0.1',
  port: 22,
  user: 'u',
  privateKeyFiles: [],
  hostKeyChecking: 'strict',
  connectTimeoutMs: 1000,
});

describe('ConnectionPool', () => {
  it('creates one connection per host and bounds connects in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    let created = 0;
    const pool = new ConnectionPool({
      maxConcurrentConnects: 5,
      factory: (s) => {
        created++;
        const c = new FakeConnection(s.host);
        const orig = c.connect.bind(c);
        c.connect = async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
          await orig();
        };
        return c;
      },
    });
    const hosts = Array.from({ length: 200 }, (_, i) => `h${i}`);
    const conns = await Promise.all([...hosts, ...hosts].map((h) => pool.get(spec(h))));
    expect(created).toBe(200);
    expect(peak).toBe(5);
    expect(conns[0]).toBe(conns[200]);
    expect(pool.size).toBe(200);
    await pool.closeAll();
    expect((conns[0] as FakeConnection).closed).toBe(true);
    expect(pool.size).toBe(0);
  });

  it('keeps one connection per host and login: another user or port is another connection', async () => {
    const made: string[] = [];
    const pool = new ConnectionPool({
      factory: (s) => {
        made.push(`${s.user}@${s.host}:${s.port}`);
        return new FakeConnection(s.host);
      },
    });
    const a = await pool.get(spec('h'));
    expect(await pool.get({ ...spec('h') })).toBe(a);
    const b = await pool.get({ ...spec('h'), user: 'deploy' });
    const c = await pool.get({ ...spec('h'), port: 2222 });
    const d = await pool.get({ ...spec('h'), password: 'x' });
    expect(new Set([a, b, c, d]).size).toBe(4);
    expect(await pool.get({ ...spec('h'), password: 'x' })).toBe(d);
    expect(made).toEqual(['u@h:22', 'deploy@h:22', 'u@h:2222', 'u@h:22']);
    await pool.get(spec('other'));
    await pool.close('h');
    expect(pool.size).toBe(1);
    expect((a as FakeConnection).closed && (b as FakeConnection).closed).toBe(true);
    expect(pool.peek('other')).toBeDefined();
    expect(pool.peek('h')).toBeUndefined();
  });

  it('a failed connect rejects and is retried on the next get', async () => {
    const fake = new FakeConnection('down').setUnreachable('connection refused');
    const pool = new ConnectionPool({ factory: () => fake });
    await expect(pool.get(spec('down'))).rejects.toBeInstanceOf(UnreachableError);
    fake.setUnreachable(undefined);
    await expect(pool.get(spec('down'))).resolves.toBe(fake);
  });

  it('picks ssh or local by spec.connection and names unsupported types', () => {
    expect(createConnection(spec('a'))).toBeInstanceOf(SshConnection);
    expect(createConnection(spec('b', 'local'))).toBeInstanceOf(LocalConnection);
    expect(() => createConnection(spec('c', 'winrm'))).toThrow(UsageError);
    expect(() => createConnection(spec('c', 'winrm'))).toThrow(/host c: connection type "winrm"/);
  });
});

describe('FakeConnection', () => {
  it('answers by regex or function, records calls, keeps put files', async () => {
    const f = new FakeConnection('h')
      .on(/^uname/, { stdout: 'Linux\n' })
      .on((s, o) => o.become !== undefined && s === 'id -u', { stdout: '0\n' })
      .on(/^id -u/, (_s, o) => ({ stdout: `${o.env?.UID_OVERRIDE ?? 1000}\n` }));
    expect((await f.run('uname -s')).stdout).toBe('Linux\n');
    expect((await f.run('id -u', { become: { method: 'sudo', user: 'root' } })).stdout).toBe('0\n');
    expect((await f.run('id -u', { env: { UID_OVERRIDE: '7' } })).stdout).toBe('7\n');
    const miss = await f.run('reboot');
    expect(miss.rc).toBe(127);
    expect(miss.stderr).toContain('no handler');
    await f.put(new Uint8Array([1, 2]), '/etc/x', { mode: 0o600 });
    expect(f.files.get('/etc/x')).toEqual({ data: new Uint8Array([1, 2]), mode: 0o600 });
    expect(f.scripts).toEqual(['uname -s', 'id -u', 'id -u', 'reboot']);
    expect(f.calls.at(-1)).toMatchObject({ kind: 'put', remote: '/etc/x', mode: 0o600 });
  });
});
