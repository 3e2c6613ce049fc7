/**
 * Bad inventories: every problem is reported at once, each with the file and line where
 * it is, and a message saying what is wrong.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/inventory.js';

const root = mkdtempSync(join(tmpdir(), 'drover-inv-errors-'));
let n = 0;

afterAll(() => rmSync(root, { recursive: true, force: true }));

function fixture(files: Record<string, string>, executable: string[] = []): string {
  const dir = join(root, `case${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  for (const e of executable) chmodSync(join(dir, e), 0o755);
  return dir;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function problemsOf(dir: string, sources: string[]): Promise<ValidationError> {
  try {
    await loadInventory({ sources, cwd: dir });
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('INI errors name file:line', () => {
  it('a host variable without =', async () => {
    const dir = fixture({ 'hosts.ini': '[web]\nweb1 port=80\nweb2 justaword\n' });
    const e = await problemsOf(dir, ['hosts.ini']);
    expect(e.message).toContain(`${join(dir, 'hosts.ini')}:3:`);
    expect(e.message).toContain('expected key=value host variable assignment, got: justaword');
  });

  it.each([
    ['web[1:]', 'host range must specify end value'],
    ['web[01:5]', 'equal-length begin and end'],
    ['web[a:3]', 'invalid number'],
    ['web[1:5:0]', 'step must not be zero'],
    ['web[z:a]', 'begin <= end'],
  ])('a bad range %s', async (pattern, why) => {
    const dir = fixture({ hosts: `# comment\n[g]\n${pattern}\n` });
    const e = await problemsOf(dir, ['hosts']);
    expect(e.message).toContain(`${join(dir, 'hosts')}:3:`);
    expect(e.message).toContain(why);
  });

  it('sections with spaces or unknown types', async () => {
    const dir = fixture({ hosts: '[good]\nh1\n[bad group]\nh2\n[g:weird]\nh3\n' });
    const e = await problemsOf(dir, ['hosts']);
    const file = join(dir, 'hosts');
    expect(e.problems.map((p) => p.pos?.line)).toEqual([3, 5]);
    expect(e.message).toContain(`${file}:3:1: invalid section entry: '[bad group]'`);
    expect(e.message).toContain(`${file}:5:1: section [g:weird] has unknown type: weird`);
  });

  it('vars for an undefined group and children that are never defined', async () => {
    const dir = fixture({ hosts: '[a]\nh1\n[ghost:vars]\nx=1\n[p:children]\na\nnowhere\n' });
    const e = await problemsOf(dir, ['hosts']);
    const file = join(dir, 'hosts');
    expect(e.message).toContain(`${file}:3:1: section [ghost:vars] is for an undefined group: ghost`);
    expect(e.message).toContain(`${file}:7:1: section [p:children] includes undefined group: nowhere`);
  });

  it('a group that is its own ancestor', async () => {
    const dir = fixture({ hosts: '[a]\nh1\n[b]\nh2\n[a:children]\nb\n[b:children]\na\n' });
    const e = await problemsOf(dir, ['hosts']);
    expect(e.message).toContain(`${join(dir, 'hosts')}:8:`);
    expect(e.message).toContain('creates a loop');
  });

  it('a group listed as its own child', async () => {
    const dir = fixture({ hosts: '[a]\nh1\n[a:children]\na\n' });
    const e = await problemsOf(dir, ['hosts']);
    expect(e.message).toContain(`${join(dir, 'hosts')}:4:`);
    expect(e.message).toContain("group 'a' cannot be a child of itself");
  });

  it('an unclosed quote and a trailing colon', async () => {
    const dir = fixture({ hosts: "[g]\nh1 x='open\nh2:\n" });
    const e = await problemsOf(dir, ['hosts']);
    const file = join(dir, 'hosts');
    expect(e.message).toMatch(
      new RegExp(`${escapeRe(file)}:2:1: cannot parse host line .*No closing quotation`),
    );
    expect(e.message).toMatch(
      new RegExp(`${escapeRe(file)}:3:1: invalid host pattern 'h2:': a trailing ':'`),
    );
  });
});

describe('YAML, script and file errors', () => {
  it('a YAML syntax error has line and column', async () => {
    const dir = fixture({ 'inv.yml': 'all:\n  hosts:\n    h1:\n      x: [1, 2\n' });
    const e = await problemsOf(dir, ['inv.yml']);
    expect(e.message).toMatch(
      new RegExp(
        `${join(dir, 'inv.yml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error`,
      ),
    );
  });

  it('a YAML inventory cycle points at the key that closes the loop', async () => {
    const dir = fixture({ 'inv.yml': 'a:\n  children:\n    b:\n      children:\n        a:\n' });
    const e = await problemsOf(dir, ['inv.yml']);
    expect(e.message).toContain(`${join(dir, 'inv.yml')}:3:5:`);
    expect(e.message).toContain('creates a loop');
  });

  it('a failing dynamic script shows its stderr', async () => {
    const dir = fixture({ 'inv.sh': '#!/bin/sh\necho "cannot reach the cloud API: 403" >&2\nexit 3\n' }, [
      'inv.sh',
    ]);
    const e = await problemsOf(dir, ['inv.sh']);
    expect(e.message).toContain(`${join(dir, 'inv.sh')}:1:1:`);
    expect(e.message).toContain('exit code 3');
    expect(e.message).toContain('cannot reach the cloud API: 403');
  });

  it('a dynamic script printing invalid JSON shows the parse error and stderr', async () => {
    const dir = fixture({ 'inv.py': '#!/bin/sh\necho "{not json"\necho "debug line" >&2\n' }, ['inv.py']);
    const e = await problemsOf(dir, ['inv.py']);
    expect(e.message).toContain('printed invalid JSON for --list');
    expect(e.message).toContain('debug line');
  });

  it('a missing source and a broken group_vars file', async () => {
    const missing = fixture({ hosts: '[g]\nh1\n' });
    const e1 = await problemsOf(missing, ['hosts', 'nope.ini']);
    expect(e1.message).toContain(`inventory source not found: ${join(missing, 'nope.ini')}`);
    const dir = fixture({
      hosts: '[g]\nh1\n',
      'group_vars/g.yml': 'a: 1\nb: [\n',
      'group_vars/all.yml': '- a list\n',
    });
    const e2 = await problemsOf(dir, ['hosts']);
    expect(e2.message).toContain(`${join(dir, 'group_vars/g.yml')}:`);
    expect(e2.message).toContain(`${join(dir, 'group_vars/all.yml')}:1:1: vars file must hold a mapping`);
  });

  it('a vault-encrypted vars file without a secret says how to give one', async () => {
    const dir = fixture({ hosts: 'h1\n', 'host_vars/h1.yml': '$ANSIBLE_VAULT;1.1;AES256\n6162\n' });
    const e = await problemsOf(dir, ['hosts']);
    expect(e.message).toContain(`${join(dir, 'host_vars/h1.yml')}:1:1: this vars file is vault-encrypted`);
    expect(e.problems[0]?.hint).toContain('--vault-password-file');
  });

  it('collects problems from every source before failing', async () => {
    const dir = fixture({ 'a.ini': '[g]\nh x\n', 'b.yml': 'g: [\n' });
    const e = await problemsOf(dir, ['a.ini', 'b.yml']);
    const files = e.problems.map((p) => p.pos?.file);
    expect(files).toContain(join(dir, 'a.ini'));
    expect(files).toContain(join(dir, 'b.yml'));
    expect(e.message).toMatch(/^2 problems found/);
  });
});
