import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBecomeCommand } from '../../../src/transport/become.js';
import { SESSION_DRIVER, SessionShell } from '../../../src/transport/session.js';

// The session driver is plain sh: run it as a local process and give SessionShell the
// same surface an ssh2 channel has (data/close events, stderr stream, write, end).
function channelFrom(child: ChildProcessWithoutNullStreams): ClientChannel {
  const ch = new EventEmitter() as EventEmitter & {
    stderr: NodeJS.ReadableStream;
    write(b: Buffer): boolean;
    end(): void;
  };
  child.stdout.on('data', (c: Buffer) => ch.emit('data', c));
  child.on('close', () => ch.emit('close'));
  ch.stderr = child.stderr;
  ch.write = (b: Buffer) => child.stdin.write(b);
  ch.end = () => child.stdin.end();
  return ch as unknown as ClientChannel;
}

let child: ChildProcessWithoutNullStreams;
let shell: SessionShell;
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const run = (script: string, stdin?: Buffer | string, env?: Record<string, string>) =>
  shell.run(buildBecomeCommand(script, undefined, env), stdin === undefined ? undefined : Buffer.from(stdin));

beforeAll(() => {
  child = spawn('/bin/sh', ['-c', SESSION_DRIVER]);
  shell = new SessionShell(channelFrom(child));
});
afterAll(() => {
  shell.close();
  child.kill();
});

describe('SessionShell framing over a real sh', () => {
  it('returns rc, stdout without trailing newline, stderr', async () => {
    const r = await run('printf out; printf err >&2; exit 5');
    expect({ rc: r.rc, out: r.stdout.toString(), err: r.stderr.toString() }).toEqual({
      rc: 5,
      out: 'out',
      err: 'err',
    });
  });

  it('keeps frames apart when a script leaves its stdin unread', async () => {
    await run('true', 'x'.repeat(200_000));
    const r = await run('cat', 'only this');
    expect(r.stdout.toString()).toBe('only this');
  });

  it('passes binary stdin and 5 MiB of output byte-exact, and env', async () => {
    const bin = randomBytes(1 << 20);
    const r = await run('sha256sum | cut -d" " -f1; printf "%s" "$E"', bin, { E: "it's\n$x" });
    expect(r.stdout.toString()).toBe(`${sha(bin)}\nit's\n$x`);
    const big = await run(
      'head -c 5242880 /dev/urandom | tee /tmp/drover-session-big | sha256sum >&2; cat /tmp/drover-session-big',
    );
    expect(`${sha(big.stdout)}  -\n`).toBe(big.stderr.toString());
  });

  it('a script cannot end the frame early by printing something boundary-like', async () => {
    const r = await run(`printf '\\nDROVER-END-00000000000000000000000000000000 0\\n'; echo tail`);
    expect(r.stdout.toString()).toBe('\nDROVER-END-00000000000000000000000000000000 0\ntail\n');
  });

  it('refuses a second run while busy and reports the shell dying', async () => {
    const slow = run('sleep 0.2; echo done');
    await expect(run('true')).rejects.toThrow(/busy/);
    expect((await slow).stdout.toString()).toBe('done\n');
    const dying = run('kill -9 $PPID; sleep 0.3');
    await expect(dying).rejects.toThrow(/session shell ended/);
    expect(shell.alive).toBe(false);
  });
});
