/**
 * hostname, getent, wait_for, systemd/service, reboot: golden checks of the planned script
 * and of parse() on canned answers, plus real runs where they change nothing here (getent
 * reads, wait_for polls, systemd against a stand-in systemctl that records its argv).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { getent, getentFacts } from '../../../../modules/system/getent.js';
import { hostname } from '../../../../modules/system/hostname.js';
import { reboot } from '../../../../modules/system/reboot.js';
import { buildScript, readAnswer } from '../../../../modules/system/remote-sh.js';
import { service, systemd } from '../../../../modules/system/service.js';
import { pythonRegexToEre, waitFor } from '../../../../modules/system/wait-for.js';
import { type AnyModule, isStep, type Step, type TaskResult } from '../../../../modules/types.js';
import { makeContext, runModule, runSh, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

async function planOnly(mod: AnyModule, raw: Record<string, unknown>, check = false): Promise<Step> {
  const v = validateArgs(mod.names[0]!, mod.args, raw);
  expect(v.errors).toEqual([]);
  const p = await mod.plan(v.args, makeContext({ check }));
  if (!isStep(p)) throw new Error(`expected a step, got ${JSON.stringify(p)}`);
  return p;
}

const answer = (lines: string[], rc = 0) => ({ rc, stdout: `${lines.join('\n')}\n`, stderr: '' });
const b64 = (v: string) => Buffer.from(v).toString('base64');

describe('the sh scaffold', () => {
  it.each([
    'plain',
    'sp ace',
    "single ' quote",
    'double " quote',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${x} is what this value tests
    'dollar $HOME ${x} $(id)',
    'back `tick`',
    'new\nline\n',
    'ünïcødé ☃ 日本',
    '-leading-dash',
    '--',
    '',
    '\\back\\slash',
    '*glob? [x]',
    'tab\there',
  ])('assigns %j byte-exact and d_emit returns it byte-exact', async (v) => {
    const script = buildScript(false, { v }, 'd_emit v "$v"');
    const r = await runSh(script);
    const { report } = readAnswer(r, 'x');
    expect(report.get('v')).toBe(v);
  });

  it('d_run stops with the command output and rc; check mode runs nothing', async () => {
    const f = s.path('touched');
    const real = await runSh(
      buildScript(false, { f }, 'd_run "it failed" sh -c \'echo boom >&2; exit 3\'\nd_set after 1'),
    );
    const a = readAnswer(real, 'x');
    expect(a.failure).toMatchObject({ failed: true, rc: 3, msg: 'it failed: boom' });
    expect(a.report.has('after')).toBe(false);
    await runSh(buildScript(true, { f }, 'd_run "no" touch "$f"'));
    expect(() => readFileSync(f)).toThrow();
  });

  it('a script that dies without answering fails with its stderr', () => {
    const a = readAnswer({ rc: 127, stdout: '', stderr: 'sh: 1: nosuch: not found\n' }, 'thing');
    expect(a.failure).toMatchObject({
      failed: true,
      rc: 127,
      msg: 'thing failed (rc=127): sh: 1: nosuch: not found',
    });
  });
});

describe('hostname', () => {
  it('plans hostnamectl for use=systemd and a file write otherwise', async () => {
    expect((await planOnly(hostname, { name: 'web1', use: 'systemd' })).script).toContain('use=systemd\n');
    expect((await planOnly(hostname, { name: 'web1', use: 'debian' })).script).toContain('use=file\n');
  });

  it('parses a change into facts and a diff', async () => {
    const v = validateArgs('hostname', hostname.args, { name: 'web1.example.com' });
    const step = (await hostname.plan(v.args as never, { ...makeContext(), diff: true })) as Step;
    const r = (await step.parse(answer([`before:b64=${b64('old')}`, 'changed=1']))) as TaskResult;
    expect(r).toMatchObject({
      changed: true,
      name: 'web1.example.com',
      ansible_facts: {
        ansible_hostname: 'web1',
        ansible_nodename: 'web1.example.com',
        ansible_domain: 'example.com',
      },
      diff: { before: 'hostname = old\n', after: 'hostname = web1.example.com\n' },
    });
  });

  it('check mode against this machine reports and changes nothing', async () => {
    const before = spawnSync('hostname', { encoding: 'utf8' }).stdout.trim();
    const same = await runModule(hostname, { name: before, use: 'systemd' }, { check: true });
    expect(same.result.failed).toBeFalsy();
    const other = await runModule(hostname, { name: 'drover-check-only', use: 'debian' }, { check: true });
    expect(other.result.changed).toBe(true);
    expect(spawnSync('hostname', { encoding: 'utf8' }).stdout.trim()).toBe(before);
  });
});

describe('getent', () => {
  it('reads passwd entries into ansible_facts.getent_passwd', async () => {
    const r = await runModule(getent, { database: 'passwd', key: 'root' });
    const facts = r.result.ansible_facts as { getent_passwd: Record<string, string[]> };
    expect(r.result.changed).toBe(false);
    expect(facts.getent_passwd.root!.slice(0, 4)).toEqual(['x', '0', '0', 'root']);
  });

  it('a missing key fails unless fail_key=no', async () => {
    const bad = await runModule(getent, { database: 'passwd', key: 'no-such-user-drover' });
    expect(bad.result).toMatchObject({
      failed: true,
      msg: 'One or more supplied key could not be found in the database.',
    });
    const ok = await runModule(getent, { database: 'passwd', key: 'no-such-user-drover', fail_key: false });
    expect(ok.result.failed).toBeFalsy();
  });

  it('splits whitespace databases and collects duplicate keys', () => {
    expect(getentFacts('127.0.0.1  localhost\n127.0.0.1 other\n', 'hosts')).toEqual({
      '127.0.0.1': [['localhost'], ['other']],
    });
    expect(getentFacts('a:b:c\n', 'group', undefined)).toEqual({ a: ['b', 'c'] });
  });
});

describe('wait_for', () => {
  it('waits until a file appears and matches search_regex', async () => {
    const path = s.path('log');
    setTimeout(() => writeFileSync(path, 'starting\nready on port 8080\n'), 600);
    const r = await runModule(waitFor, { path, search_regex: 'ready on port (\\d+)', timeout: 10 });
    expect(r.result).toMatchObject({ changed: false, path, match_groups: ['8080'] });
  });

  it("times out with Ansible's message", async () => {
    const r = await runModule(waitFor, { path: s.path('never'), timeout: 1 });
    expect(r.result).toMatchObject({ failed: true, msg: `Timeout when waiting for file ${s.path('never')}` });
    const custom = await runModule(waitFor, { path: s.path('never'), timeout: 1, msg: 'custom' });
    expect(custom.result.msg).toBe('custom');
  });

  it('state=absent waits for a file to go away', async () => {
    const path = s.path('lock');
    writeFileSync(path, '');
    const r = await runModule(waitFor, { path, state: 'absent', timeout: 1 });
    expect(r.result.failed).toBe(true);
    expect(r.result.msg).toBe(`Timeout when waiting for ${path} to be absent.`);
  });

  it('sees a port open and closed on 127.0.0.1', async () => {
    const srv = createServer((c) => c.end());
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as { port: number }).port;
    const open = await runModule(waitFor, { port, timeout: 5 });
    expect(open.result).toMatchObject({ changed: false, port, state: 'started' });
    const stillOpen = await runModule(waitFor, { port, state: 'stopped', timeout: 1 });
    expect(stillOpen.result.msg).toBe(`Timeout when waiting for 127.0.0.1:${port} to stop.`);
    await new Promise<void>((res) => srv.close(() => res()));
    const closed = await runModule(waitFor, { port, state: 'stopped', timeout: 5 });
    expect(closed.result.failed).toBeFalsy();
  });

  it('translates Python regex escapes for grep -E', () => {
    expect(pythonRegexToEre('ready (?:on)? port (\\d+)\\s\\w')).toBe(
      'ready (on)? port ([0-9]+)[[:space:]][[:alnum:]_]',
    );
    expect(pythonRegexToEre('a\\.b')).toBe('a\\.b');
  });

  it('rejects port with path, drained with path', async () => {
    expect((await runModule(waitFor, { port: 1, path: '/x' })).result.msg).toBe(
      'port and path parameter can not both be passed to wait_for',
    );
    expect((await runModule(waitFor, { path: '/x', state: 'drained' })).result.failed).toBe(true);
  });
});

// A stand-in systemctl: unit state lives in files under $FAKE; every call is logged.
const SYSTEMCTL = `#!/bin/sh
{ for a in "$@"; do printf '%s\\0' "$a"; done; printf '\\036'; } >> "$FAKE/log"
u=$2
case "$1" in
  is-active) cat "$FAKE/$u.active" 2>/dev/null || echo inactive; [ "$(cat "$FAKE/$u.active" 2>/dev/null)" = active ] ;;
  is-enabled) cat "$FAKE/$u.enabled" 2>/dev/null || { echo "Failed to get unit file state for $u" >&2; exit 1; } ;;
  start|restart) echo active > "$FAKE/$u.active" ;;
  stop) echo inactive > "$FAKE/$u.active" ;;
  enable) echo enabled > "$FAKE/$u.enabled" ;;
  disable) echo disabled > "$FAKE/$u.enabled" ;;
  mask) echo masked > "$FAKE/$u.enabled" ;;
  show) if [ -f "$FAKE/$u.enabled" ]; then echo "Id=$u"; echo "ActiveState=$(cat "$FAKE/$u.active" 2>/dev/null)"; echo LoadState=loaded; else echo LoadState=not-found; fi ;;
  daemon-reload) : ;;
esac
`;

describe('systemd (stand-in systemctl)', () => {
  function fake(): Record<string, string> {
    mkdirSync(s.path('bin'));
    writeFileSync(s.path('bin/systemctl'), SYSTEMCTL);
    chmodSync(s.path('bin/systemctl'), 0o755);
    writeFileSync(s.path('log'), '');
    writeFileSync(s.path('nginx.service.enabled'), 'disabled\n');
    return { PATH: `${s.path('bin')}:${process.env.PATH}`, FAKE: s.dir };
  }
  async function run(raw: Record<string, unknown>, env: Record<string, string>, check = false) {
    let next: Step | TaskResult = await planOnly(systemd, raw, check);
    while (isStep(next)) next = await next.parse(await runSh(next.script, next.stdin, env));
    return next;
  }
  const calls = () =>
    readFileSync(s.path('log'), 'utf8')
      .split('\x1e')
      .filter(Boolean)
      .map((c) => c.split('\0').filter(Boolean))
      .filter((c) => !['is-active', 'is-enabled', 'show'].includes(c[0]!));

  it('starts and enables, then is ok; status comes from systemctl show', async () => {
    const env = fake();
    const chk = await run({ name: 'nginx.service', state: 'started', enabled: true }, env, true);
    expect(chk.changed).toBe(true);
    expect(calls()).toEqual([]);
    const r = await run({ name: 'nginx.service', state: 'started', enabled: true, daemon_reload: true }, env);
    expect(r).toMatchObject({
      changed: true,
      name: 'nginx.service',
      state: 'started',
      enabled: true,
      status: { ActiveState: 'active' },
    });
    expect(calls()).toEqual([['daemon-reload'], ['enable', 'nginx.service'], ['start', 'nginx.service']]);
    const again = await run({ name: 'nginx.service', state: 'started', enabled: true }, env);
    expect(again.changed).toBe(false);
  });

  it('restarted always changes; stopped only when running; masked', async () => {
    const env = fake();
    expect((await run({ name: 'nginx.service', state: 'stopped' }, env)).changed).toBe(false);
    expect((await run({ name: 'nginx.service', state: 'restarted' }, env)).changed).toBe(true);
    expect((await run({ name: 'nginx.service', state: 'stopped' }, env)).changed).toBe(true);
    expect((await run({ name: 'nginx.service', masked: true }, env)).changed).toBe(true);
    expect((await run({ name: 'nginx.service', masked: true }, env)).changed).toBe(false);
  });

  it('an unknown unit fails naming it', async () => {
    const env = fake();
    const r = await run({ name: 'nosuch.service', state: 'started' }, env);
    expect(r).toMatchObject({ failed: true });
    expect(String(r.msg)).toContain('nosuch.service');
  });

  it('service without state or enabled fails in planning', async () => {
    const v = validateArgs('service', service.args, { name: 'x' });
    expect(await service.plan(v.args as never, makeContext())).toMatchObject({
      failed: true,
      msg: 'Neither argument state nor enabled are set',
    });
  });
});

describe('reboot (planned, never run here)', () => {
  it('issues shutdown in the background after recording the boot id; check mode returns first', async () => {
    const step = await planOnly(reboot, { pre_reboot_delay: 120, msg: "it's time" });
    expect(step.script).toContain('shutdown -r "+$delay_min" "$msg"');
    expect(step.script).toContain("msg='it'\\''s time'");
    expect(step.script).toContain('delay_min=2\n');
    const chk = await planOnly(reboot, {}, true);
    expect(chk.script.indexOf('[ -n "$CHECK" ] && exit 0')).toBeLessThan(chk.script.indexOf('shutdown -r'));
    const r = (await step.parse(answer([`boot_id:b64=${b64('abc-123')}`, 'changed=1']))) as TaskResult;
    expect(r).toMatchObject({
      changed: true,
      rebooted: true,
      boot_id_before: 'abc-123',
      post_reboot: { test_command: 'whoami' },
    });
  });
});
