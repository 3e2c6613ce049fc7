import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../../../../modules/commands/command.js';
import { ping } from '../../../../modules/commands/ping.js';
import { raw } from '../../../../modules/commands/raw.js';
import { script } from '../../../../modules/commands/script.js';
import { shell } from '../../../../modules/commands/shell.js';
import { quote } from '../../../../src/shell/quote.js';
import { runModule, scratch } from '../harness.js';

const nasty = [
  'plain',
  'with space',
  "it's",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${PATH} is the point of the case
  'dollar $HOME and ${PATH}',
  'back`tick`',
  'new\nline',
  'unicodé ✓ 日本',
  '-n',
  '--help',
  '%s %d',
  'back\\slash',
  '"double"',
  '',
  '*',
];

describe('command', () => {
  const dirs: ReturnType<typeof scratch>[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  it('passes every argv word byte-exact (argv form)', async () => {
    const { result } = await runModule(command, {
      argv: ['printf', '%s\\0', ...nasty],
      expand_argument_vars: false,
      strip_empty_ends: false,
    });
    expect(result.rc).toBe(0);
    expect(result.stdout!.split('\0').slice(0, -1)).toEqual(nasty);
    expect(result.changed).toBe(true);
    expect(result.cmd).toEqual(['printf', '%s\\0', ...nasty]);
  });

  it('splits a command line like Python shlex', async () => {
    const { result } = await runModule(command, { _raw_params: `printf '%s|' "a b" 'c d' e\\ f` });
    expect(result.stdout).toBe('a b|c d|e f|');
  });

  it('expands $VARS and ~ like os.path.expandvars/expanduser, leaving unknown vars literal', async () => {
    const { result } = await runModule(command, { _raw_params: 'echo $HOME ~ $DROVER_SURELY_UNSET' });
    expect(result.stdout).toBe(`${process.env.HOME} ${process.env.HOME} $DROVER_SURELY_UNSET`);
  });

  it('fails with rc and stderr on a non-zero exit', async () => {
    const { result } = await runModule(command, { _raw_params: 'sh -c "echo oops >&2; exit 3"' });
    expect(result).toMatchObject({ failed: true, rc: 3, stderr: 'oops', msg: 'non-zero return code' });
  });

  it('reports a missing executable like Ansible', async () => {
    const { result } = await runModule(command, { _raw_params: 'drover-no-such-command x' });
    expect(result).toMatchObject({ failed: true, rc: 2 });
    expect(result.msg).toContain("No such file or directory: b'drover-no-such-command'");
  });

  it('honours creates and removes (with globs) and chdir', async () => {
    const d = scratch();
    dirs.push(d);
    writeFileSync(d.path('made.txt'), 'x');
    const skip = await runModule(command, { _raw_params: 'touch ran', chdir: d.dir, creates: 'made.*' });
    expect(skip.result).toMatchObject({
      changed: false,
      rc: 0,
      msg: "Did not run command since 'made.*' exists",
    });
    const run = await runModule(command, { _raw_params: 'touch ran', chdir: d.dir, creates: 'other' });
    expect(run.result.changed).toBe(true);
    const skip2 = await runModule(command, { _raw_params: 'echo hi', chdir: d.dir, removes: 'absent*' });
    expect(skip2.result.changed).toBe(false);
  });

  it('skips in check mode unless creates/removes decide', async () => {
    const d = scratch();
    dirs.push(d);
    const { result, scripts } = await runModule(
      command,
      { _raw_params: `touch ${d.path('x')}` },
      { check: true },
    );
    expect(result).toMatchObject({ skipped: true, changed: false });
    expect(scripts).toEqual([]);
    const guarded = await runModule(
      command,
      { _raw_params: `touch ${d.path('x')}`, creates: d.path('x') },
      { check: true },
    );
    expect(guarded.result).toMatchObject({
      changed: true,
      msg: 'Command would have run if not in check mode',
    });
    const { existsSync } = await import('node:fs');
    expect(existsSync(d.path('x'))).toBe(false);
  });

  it('feeds stdin with a trailing newline by default', async () => {
    const { result } = await runModule(command, { _raw_params: 'od -c', stdin: 'ab' });
    expect(result.stdout).toContain('a   b  \\n');
  });
});

describe('shell', () => {
  it('runs through /bin/sh with pipes and quoting intact', async () => {
    const { result } = await runModule(shell, { _raw_params: `printf %s ${quote(nasty.join('|'))} | wc -c` });
    expect(Number(result.stdout)).toBe(Buffer.byteLength(nasty.join('|')));
    expect(result.cmd).toContain('wc -c');
  });

  it('uses the given executable', async () => {
    const { result } = await runModule(shell, { cmd: 'echo $0', executable: '/bin/sh' });
    expect(result.stdout).toBe('/bin/sh');
  });
});

describe('raw, ping, script', () => {
  it('raw keeps output unstripped and fails on non-zero', async () => {
    const { result } = await runModule(raw, { _raw_params: 'echo hi; exit 4' });
    expect(result).toMatchObject({ failed: true, rc: 4, stdout: 'hi\n', stdout_lines: ['hi'] });
  });

  it('ping answers pong after a real round trip', async () => {
    const { result, scripts } = await runModule(ping, {});
    expect(result).toEqual({ ping: 'pong', changed: false });
    expect(scripts).toHaveLength(1);
  });

  it('script uploads the controller file over stdin and runs it with shell arguments', async () => {
    const d = scratch();
    try {
      writeFileSync(d.path('s.sh'), '#!/bin/sh\necho "args:$1:$2"\n');
      const { result } = await runModule(
        script,
        { _raw_params: `s.sh one "two words"` },
        {
          files: {
            find: (_k, p) => (p === 's.sh' ? d.path('s.sh') : undefined),
            read: async (p) => (await import('node:fs/promises')).readFile(p),
          },
        },
      );
      expect(result).toMatchObject({ rc: 0, changed: true, stdout: 'args:one:two words\n' });
    } finally {
      d.cleanup();
    }
  });
});
