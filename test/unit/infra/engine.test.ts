/**
 * drover infra end to end in-process, with the light providers (files and commands whose
 * effects the test can see on disk): plan symbols and counts, apply order, replace and
 * update, partial failure, saved plans, targets, refresh, state commands, locking, masking.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { normaliseInfraArgv, runInfra } from '../../../cli/infra.js';
import { createLocalBackend } from '../../../src/infra/backends/local.js';
import { parseState } from '../../../src/infra/state.js';

const root = mkdtempSync(join(tmpdir(), 'drover-infra-engine-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dir = '';
let n = 0;
beforeEach(() => {
  dir = join(root, `t${n++}`);
});

function config(text: string, name = 'main.infra.yml'): void {
  rmSync(join(dir, name), { force: true });
  writeFileSync(join(mk(dir), name), text);
}

function mk(d: string): string {
  mkdirSync(d, { recursive: true });
  return d;
}

async function infra(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runInfra(['-chdir', dir, ...args], {
    write: (t) => (out += t),
    writeErr: (t) => (err += t),
    ask: async () => undefined,
  });
  return { code, out, err };
}

function state() {
  return parseState(readFileSync(join(dir, 'drover.tfstate.json'), 'utf8'), 'test');
}

function log(): string[] {
  return existsSync(join(dir, 'log.txt'))
    ? readFileSync(join(dir, 'log.txt'), 'utf8').trim().split('\n')
    : [];
}

const files = (count: number) => `
variables:
  n: {type: number, default: ${count}}
resources:
  local_file:
    f:
      count: "{{ var.n }}"
      filename: "out/f{{ count.index }}.txt"
      content: "file {{ count.index }}"
`;

describe('drover infra', () => {
  it('normalises Terraform single-dash long flags', () => {
    expect(
      normaliseInfraArgv([
        'apply',
        '-auto-approve',
        '-var=a=1',
        '-var',
        'b=2',
        '-lock=false',
        '-refresh=false',
        '-x',
      ]),
    ).toEqual(['apply', '--auto-approve', '--var=a=1', '--var', 'b=2', '--no-lock', '--no-refresh', '-x']);
  });

  it('plans, applies, converges, and plans exactly the added instances when count grows', async () => {
    config(files(3));
    let r = await infra('plan', '-detailed-exitcode');
    expect(r.code).toBe(2);
    expect(r.out).toContain('# local_file.f[2] will be created');
    expect(r.out).toContain('Plan: 3 to add, 0 to change, 0 to destroy.');
    r = await infra('apply', '-auto-approve');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('Apply complete! Resources: 3 added, 0 changed, 0 destroyed.');
    expect(readFileSync(join(dir, 'out/f2.txt'), 'utf8')).toBe('file 2');
    r = await infra('plan', '-detailed-exitcode');
    expect(r.code).toBe(0);
    expect(r.out).toContain('No changes.');
    r = await infra('plan', '-detailed-exitcode', '-var', 'n=5');
    expect(r.code).toBe(2);
    expect(r.out).toContain('Plan: 2 to add, 0 to change, 0 to destroy.');
    r = await infra('plan', '-var=n=1');
    expect(r.out).toContain('Plan: 0 to add, 0 to change, 2 to destroy.');
    expect(r.out).toContain('# local_file.f[2] will be destroyed');
    const st = state();
    expect(st.format_version).toBe(1);
    expect(st.resources.map((i) => i.address)).toEqual([
      'local_file.f[0]',
      'local_file.f[1]',
      'local_file.f[2]',
    ]);
  });

  it('replaces naming the forcing attribute, updates in place otherwise', async () => {
    config(`
resources:
  local_file:
    a: {filename: a.txt, content: one}
  command:
    c: {create: "echo hi", destroy: "true"}
`);
    expect((await infra('apply', '-auto-approve')).code).toBe(0);
    config(`
resources:
  local_file:
    a: {filename: a.txt, content: two}
  command:
    c: {create: "echo hello", destroy: "true"}
`);
    const r = await infra('plan');
    expect(r.out).toMatch(/# local_file\.a must be replaced\n-\/\+ resource "local_file" "a" \{/);
    expect(r.out).toContain('~ content              = "one" -> "two" # forces replacement');
    expect(r.out).toContain('# command.c will be updated in-place');
    expect(r.out).toContain('~ create  = "echo hi" -> "echo hello"\n');
    expect(r.out).toContain('Plan: 1 to add, 1 to change, 1 to destroy.');
    expect((await infra('apply', '-auto-approve')).code).toBe(0);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('two');
    expect((await infra('plan')).out).toContain('No changes.');
  });

  it('creates dependencies first and destroys in reverse order', async () => {
    config(`
resources:
  command:
    a: {create: "echo create a >> log.txt", destroy: "echo destroy a >> log.txt"}
    b: {create: "echo create b {{ command.a.id }} >> log.txt", destroy: "echo destroy b >> log.txt"}
    c: {create: "echo create c >> log.txt", destroy: "echo destroy c >> log.txt", depends_on: [command.b]}
`);
    expect((await infra('apply', '-auto-approve')).code).toBe(0);
    const created = log().map((l) => l.split(' ').slice(0, 2).join(' '));
    expect(created).toEqual(['create a', 'create b', 'create c']);
    expect(log()[1]).toBe(
      `create b ${state().resources.find((i) => i.address === 'command.a')!.attributes.id}`,
    );
    expect(state().resources.find((i) => i.address === 'command.c')!.dependencies).toEqual(['command.b']);
    const r = await infra('destroy', '-auto-approve');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('Destroy complete! Resources: 3 destroyed.');
    expect(log().slice(3)).toEqual(['destroy c', 'destroy b', 'destroy a']);
    expect(state().resources).toEqual([]);
  });

  it('create_before_destroy creates the successor before destroying the old object', async () => {
    const cfg = (v: string) => `
resources:
  command:
    x:
      create: "echo create $DROVER_ID >> log.txt"
      destroy: "echo destroy $DROVER_ID >> log.txt"
      triggers: {v: "${v}"}
      lifecycle: {create_before_destroy: true}
`;
    config(cfg('1'));
    expect((await infra('apply', '-auto-approve')).code).toBe(0);
    const first = state().resources[0]!.attributes.id;
    config(cfg('2'));
    expect((await infra('apply', '-auto-approve')).code).toBe(0);
    const second = state().resources[0]!.attributes.id;
    expect(log()).toEqual([`create ${first}`, `create ${second}`, `destroy ${first}`]);
  });

  it('ignore_changes and replace_triggered_by', async () => {
    const cfg = (content: string, keeper: string) => `
resources:
  random_id:
    r: {byte_length: 2, keepers: {k: "${keeper}"}}
  local_file:
    a:
      filename: a.txt
      content: "${content}"
      lifecycle: {ignore_changes: [content]}
  command:
    c:
      create: "echo c >> log.txt"
      lifecycle: {replace_triggered_by: [random_id.r]}
`;
    config(cfg('one', '1'));
    await infra('apply', '-auto-approve');
    config(cfg('two', '1'));
    expect((await infra('plan', '-detailed-exitcode')).code).toBe(0);
    config(cfg('two', '2'));
    const r = await infra('plan');
    expect(r.out).toContain('# command.c must be replaced (replace_triggered_by random_id.r)');
    expect(r.out).toContain('Plan: 2 to add, 0 to change, 2 to destroy.');
    await infra('apply', '-auto-approve');
    expect(log()).toEqual(['c', 'c']);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('one');
  });

  it('keeps what was created when a resource fails, names it, and skips its dependents', async () => {
    config(`
resources:
  command:
    a: {create: "echo a >> log.txt"}
    b: {create: "echo boom >&2; exit 3"}
    c: {create: "echo c >> log.txt", depends_on: [command.b]}
`);
    const r = await infra('apply', '-auto-approve');
    expect(r.code).toBe(1);
    expect(r.err).toContain('Error: command.b: create failed: command exited with status 3: boom');
    expect(state().resources.map((i) => i.address)).toEqual(['command.a']);
    expect(log()).toEqual(['a']);
    config(`
resources:
  command:
    a: {create: "echo a >> log.txt"}
    b: {create: "true"}
    c: {create: "echo c >> log.txt", depends_on: [command.b]}
`);
    const again = await infra('apply', '-auto-approve');
    expect(again.out).toContain('Resources: 2 added');
    expect(log()).toEqual(['a', 'c']);
  });

  it('applies a saved plan, and refuses one made before the state moved', async () => {
    config(files(1));
    let r = await infra('plan', '-out=p1');
    expect(r.out).toContain('Saved the plan to: p1');
    r = await infra('plan', '-out', 'p2', '-var', 'n=2');
    r = await infra('apply', 'p1');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('1 added');
    r = await infra('apply', 'p2');
    expect(r.code).toBe(1);
    expect(r.err).toContain('Saved plan is stale');
    expect(state().resources).toHaveLength(1);
    r = await infra('plan', '-out=p3', '-var', 'n=2');
    r = await infra('show', '-json', 'p3');
    const j = JSON.parse(r.out) as { resource_changes: { address: string; change: { actions: string[] } }[] };
    expect(j.resource_changes.filter((c) => c.change.actions[0] === 'create').map((c) => c.address)).toEqual([
      'local_file.f[1]',
    ]);
    expect((await infra('apply', 'p3')).code).toBe(0);
  });

  it('asks for approval, and without a terminal refuses to apply', async () => {
    config(files(1));
    const r = await infra('apply');
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot ask for approval: no terminal');
    expect(existsSync(join(dir, 'out/f0.txt'))).toBe(false);
    let out = '';
    const yes = await runInfra(['-chdir', dir, 'apply'], {
      write: (t) => (out += t),
      writeErr: () => {},
      ask: async () => 'yes',
    });
    expect(yes).toBe(0);
    expect(out).toContain('1 added');
  });

  it('-target limits the plan to the target and what it depends on', async () => {
    config(`
resources:
  random_pet:
    p: {}
  local_file:
    a: {filename: a.txt, content: "{{ random_pet.p.id }}"}
    b: {filename: b.txt, content: b}
`);
    const r = await infra('apply', '-auto-approve', '-target=local_file.a');
    expect(r.code, r.err).toBe(0);
    expect(state().resources.map((i) => i.address)).toEqual(['local_file.a', 'random_pet.p']);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe(state().resources[1]!.attributes.id);
  });

  it('refresh notices objects deleted or changed out of band', async () => {
    config(files(2));
    await infra('apply', '-auto-approve');
    unlinkSync(join(dir, 'out/f1.txt'));
    writeFileSync(join(dir, 'out/f0.txt'), 'tampered');
    let r = await infra('plan', '-refresh-only');
    expect(r.out).toContain('# local_file.f[1] has been deleted');
    expect(r.out).toContain('# local_file.f[0] has changed');
    r = await infra('plan');
    expect(r.out).toContain('# local_file.f[1] will be created');
    expect(r.out).toContain('"tampered" -> "file 0" # forces replacement');
    expect((await infra('refresh')).code).toBe(0);
    expect(state().resources.map((i) => i.address)).toEqual(['local_file.f[0]']);
    await infra('apply', '-auto-approve');
    expect(readFileSync(join(dir, 'out/f0.txt'), 'utf8')).toBe('file 0');
  });

  it('modules, for_each, data sources and outputs', async () => {
    mk(join(dir, 'mod'));
    config(
      `
variables:
  who: {type: string}
resources:
  local_file:
    g:
      filename: "out/{{ var.who }}.txt"
      content: "hello {{ var.who }}"
outputs:
  path: {value: "{{ local_file.g.filename }}"}
`,
      'mod/m.infra.yml',
    );
    writeFileSync(join(dir, 'seed.txt'), 'seeded');
    config(`
data:
  local_file:
    seed: {filename: seed.txt}
modules:
  greet:
    source: ./mod
    inputs: {who: "{{ data.local_file.seed.content }}"}
resources:
  local_file:
    each:
      for_each: {x: 1, y: 2}
      filename: "out/{{ each.key }}.txt"
      content: "{{ each.value }} {{ module.greet.path }}"
outputs:
  greeting: {value: "{{ module.greet.path }}"}
  keys: {value: "{{ local_file.each.keys() | list }}"}
`);
    const r = await infra('apply', '-auto-approve');
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dir, 'out/seeded.txt'), 'utf8')).toBe('hello seeded');
    expect(readFileSync(join(dir, 'out/y.txt'), 'utf8')).toBe('2 out/seeded.txt');
    expect(state().resources.map((i) => i.address)).toEqual([
      'data.local_file.seed',
      'local_file.each["x"]',
      'local_file.each["y"]',
      'module.greet.local_file.g',
    ]);
    expect((await infra('output', 'greeting')).out).toBe('"out/seeded.txt"\n');
    expect(JSON.parse((await infra('output', '-json')).out).keys.value).toEqual(['x', 'y']);
    expect((await infra('plan', '-detailed-exitcode')).code).toBe(0);
    expect((await infra('destroy', '-auto-approve')).out).toContain(
      'Destroy complete! Resources: 3 destroyed.',
    );
    expect(state().resources).toEqual([]);
    expect(state().outputs).toEqual({});
  });

  it('masks sensitive values in plans, apply logs, errors, show, output and JSON', async () => {
    const secret = 'sup3r-s3cret-value';
    config(`
variables:
  pw: {type: string, sensitive: true}
resources:
  random_password:
    p: {length: 20}
  local_file:
    a: {filename: a.txt, content: "pw={{ var.pw }}"}
  command:
    fail: {create: "echo 'bad {{ var.pw }}' >&2; exit 1"}
outputs:
  pw: {value: "{{ var.pw }}", sensitive: true}
  gen: {value: "{{ random_password.p.result }}", sensitive: true}
`);
    const all: string[] = [];
    const run = async (...a: string[]) => {
      const r = await infra(...a, '-var', `pw=${secret}`);
      all.push(r.out, r.err);
      return r;
    };
    await run('plan');
    const ap = await run('apply', '-auto-approve');
    expect(ap.err).toContain('bad (sensitive value)');
    config(`
variables:
  pw: {type: string, sensitive: true}
resources:
  random_password:
    p: {length: 20}
  local_file:
    a: {filename: a.txt, content: "pw={{ var.pw }}"}
outputs:
  pw: {value: "{{ var.pw }}", sensitive: true}
  gen: {value: "{{ random_password.p.result }}", sensitive: true}
  leak: {value: "generated {{ random_password.p.result }}"}
`);
    await run('apply', '-auto-approve');
    for (const c of [
      ['show'],
      ['show', '-json'],
      ['output'],
      ['output', '-json'],
      ['state', 'show', 'random_password.p'],
    ]) {
      const r = await infra(...c);
      all.push(r.out, r.err);
    }
    const generated = state().resources.find((i) => i.address === 'random_password.p')!.attributes
      .result as string;
    expect(generated).toHaveLength(20);
    const text = all.join('\n');
    expect(text).toContain('(sensitive value)');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(generated);
    expect((await infra('output', '-raw', 'pw')).out).toBe(`${secret}\n`);
  });

  it('state list, show, mv, rm and import', async () => {
    config(`
resources:
  local_file:
    a: {filename: a.txt, content: a}
    b: {filename: b.txt, content: b}
`);
    await infra('apply', '-auto-approve');
    expect((await infra('state', 'list')).out).toBe('local_file.a\nlocal_file.b\n');
    expect((await infra('state', 'show', 'local_file.a')).out).toContain('filename             = "a.txt"');
    let r = await infra('state', 'mv', 'local_file.b', 'local_file.c');
    expect(r.code, r.err).toBe(0);
    expect((await infra('state', 'list')).out).toBe('local_file.a\nlocal_file.c\n');
    r = await infra('state', 'rm', 'local_file.c');
    expect(r.out).toContain('Removed local_file.c');
    expect(existsSync(join(dir, 'b.txt'))).toBe(true);
    r = await infra('import', 'local_file.b', 'b.txt');
    expect(r.code, r.err).toBe(0);
    expect((await infra('plan', '-detailed-exitcode')).code).toBe(0);
    expect((await infra('state', 'show', 'local_file.zz')).err).toContain(
      'no instance local_file.zz in the state',
    );
  });

  it('the lock: a second writer fails naming the holder, waits under -lock-timeout, force-unlock', async () => {
    config(files(1));
    const backend = createLocalBackend(dir);
    const id = await backend.lock(
      { operation: 'apply', who: 'alice@build-7', created: new Date().toISOString(), version: 'x' },
      0,
    );
    let r = await infra('apply', '-auto-approve');
    expect(r.code).toBe(1);
    expect(r.err).toContain('Error acquiring the state lock');
    expect(r.err).toContain('Who:       alice@build-7');
    expect(r.err).toContain('Operation: apply');
    expect(r.err).toContain(`ID:        ${id}`);
    expect(existsSync(join(dir, 'out/f0.txt'))).toBe(false);
    // -lock-timeout waits for the holder to finish.
    setTimeout(() => void backend.unlock(id), 300);
    r = await infra('apply', '-auto-approve', '-lock-timeout=20s');
    expect(r.code, r.err).toBe(0);
    // force-unlock removes a lock left behind.
    const id2 = await backend.lock(
      { operation: 'plan', who: 'bob@x', created: new Date().toISOString(), version: 'x' },
      0,
    );
    r = await infra('force-unlock', '-force', 'wrong-id');
    expect(r.code).toBe(1);
    r = await infra('force-unlock', '-force', id2);
    expect(r.code, r.err).toBe(0);
    expect(await backend.lockInfo()).toBeUndefined();
  });

  it('takes over a lock whose process is gone on this host', async () => {
    config(files(1));
    mk(dir);
    writeFileSync(
      join(dir, 'drover.tfstate.json.lock'),
      JSON.stringify({
        id: 'dead',
        operation: 'apply',
        who: 'x',
        created: '',
        version: '',
        path: '',
        pid: 2 ** 22 + 12345,
        host: hostname(),
      }),
    );
    const r = await infra('apply', '-auto-approve');
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(dir, 'drover.tfstate.json.lock'))).toBe(false);
  });

  it('writes state atomically after every change and keeps the previous version as backup', async () => {
    config(files(3));
    await infra('apply', '-auto-approve', '-parallelism=1');
    const st = state();
    // 3 creates, each a pending record then the result, plus the final write.
    expect(st.serial).toBe(7);
    const backup = parseState(readFileSync(join(dir, 'drover.tfstate.json.backup'), 'utf8'), 'backup');
    expect(backup.serial).toBe(6);
    expect(backup.lineage).toBe(st.lineage);
  });

  it('destroy -target takes the target and what depends on it, nothing else', async () => {
    config(`
resources:
  command:
    base: {create: "true", destroy: "echo destroy base >> log.txt"}
    user: {create: "echo {{ command.base.id }}", destroy: "echo destroy user >> log.txt"}
    other: {create: "true", destroy: "echo destroy other >> log.txt"}
`);
    await infra('apply', '-auto-approve');
    const plan = await infra('plan', '-destroy', '-target=command.base', '-detailed-exitcode');
    expect(plan.code).toBe(2);
    expect(plan.out).toContain('Plan: 0 to add, 0 to change, 2 to destroy.');
    expect((await infra('destroy', '-auto-approve', '-target', 'command.base')).code).toBe(0);
    expect(log()).toEqual(['destroy user', 'destroy base']);
    expect(state().resources.map((i) => i.address)).toEqual(['command.other']);
  });

  it('a state entry of a type no provider knows is a clear error, not a crash', async () => {
    config(files(1));
    await infra('apply', '-auto-approve');
    const st = state();
    st.resources.push({
      ...st.resources[0]!,
      address: 'gone_type.x',
      type: 'gone_type',
      name: 'x',
      index_key: null,
    });
    writeFileSync(join(dir, 'drover.tfstate.json'), JSON.stringify(st));
    const r = await infra('plan');
    expect(r.code).toBe(1);
    expect(r.err).toContain("the state holds gone_type.x, of type 'gone_type'");
    expect(r.err).toContain("drover infra state rm 'gone_type.x'");
  });

  it('validate -json lists every problem', async () => {
    config('resources:\n  local_file:\n    a: {content: x}\n    b: {filename: b, contents: y}\n');
    const r = await infra('validate', '-json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as {
      valid: boolean;
      error_count: number;
      diagnostics: { message: string }[];
    };
    expect(j.valid).toBe(false);
    expect(j.diagnostics.map((d) => d.message)).toEqual([
      "local_file.a: missing required attribute 'filename'",
      "unknown attribute 'contents' in local_file.b",
    ]);
  });

  it('graph prints the resource dependencies in DOT', async () => {
    config(`
resources:
  random_id:
    r: {byte_length: 2}
  local_file:
    a: {filename: "{{ random_id.r.hex }}.txt", content: x}
`);
    const r = await infra('graph');
    expect(r.out).toContain('"local_file.a" -> "random_id.r"');
  });
});
