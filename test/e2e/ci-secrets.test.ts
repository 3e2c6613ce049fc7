/**
 * The planted-secret test (issue 7): a playbook that uses a vault-encrypted vars file (made by
 * ansible-vault), an inline `!vault` value, a `no_log` task, failing tasks whose messages and
 * output hold the secret, a loop over it, a task name templated from it and a `--diff` of a
 * template rendering it, run against fleet hosts and one unreachable host with every output
 * format at once (JSON lines, summary, JUnit, GitHub annotations, HTML, human stdout/stderr at
 * -vvvv). Every byte of every output is searched for the secrets: nothing may be found, while
 * the masked marker must be (so the secrets really flowed through) and the host really got the
 * plaintext. The same run's JUnit file is validated against the Jenkins JUnit XSD.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { type RunResult, runCommand, runDrover, runSsh, useFleet } from '../lab/use-fleet.js';
import { validateJUnit } from '../unit/output/junit-schema.js';

const VAULT_PASSWORD = 'vault-pass-word-77';
const FILE_SECRET = 'DbPl4nted-Vault-0042';
const INLINE_SECRET = 'ApiT0ken-Inline-9931';
const NO_LOG_SECRET = 'NoLogPl4nted-5531';
const SECRETS = [FILE_SECRET, INLINE_SECRET, NO_LOG_SECRET, VAULT_PASSWORD];
/** A port in this engineer's lab range where nothing listens: the unreachable host. */
const DOWN_PORT = 25290;

let fleet: Fleet;
let dir: string;
let ok: string;
let bad: string;

function playbook(inlineVault: string): string {
  return `- name: planted secrets
  hosts: all
  gather_facts: false
  vars_files:
    - secrets.yml
  vars:
${inlineVault
  .trimEnd()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
    no_log_value: ${NO_LOG_SECRET}
  tasks:
    - name: "deploy for {{ db_password }}"
      template:
        src: app.conf.j2
        dest: /srv/ci-secret.conf
        mode: "0600"
    - name: show the token
      debug:
        msg: "token is {{ api_token }} and db {{ db_password }}"
    - name: var dump
      debug:
        var: db_password
    - name: hidden
      command: "echo {{ no_log_value }}"
      no_log: true
    - name: skipped with the secret in the condition
      debug:
        msg: "{{ db_password }}"
      when: db_password == 'nope'
    - name: loop over secrets
      debug:
        msg: "item {{ item }}"
      loop:
        - "{{ db_password }}"
        - "{{ api_token }}"
    - name: command printing the secrets
      shell: "echo {{ db_password }}; echo {{ api_token }} >&2"
      register: out
      changed_when: false
    - name: show registered
      debug:
        var: out
    - name: failing command with the secret in its output, ignored
      shell: "echo login {{ db_password }} failed; exit 3"
      ignore_errors: true
    - name: assert with the secret in fail_msg
      assert:
        that: db_password == 'x'
        fail_msg: "wrong password {{ db_password }}"
      ignore_errors: true
    - name: a template error on the secret
      debug:
        msg: "{{ db_password | from_json }}"
      ignore_errors: true
    - name: fail with the secret
      fail:
        msg: "cannot log in with {{ db_password }} / {{ api_token }}"
      when: inventory_hostname == '${bad}'
`;
}

async function must(r: Promise<RunResult>, what: string): Promise<RunResult> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${res.stderr}`);
  return res;
}

beforeAll(async () => {
  fleet = await useFleet();
  [ok, bad] = [fleet.hosts[2]!.name, fleet.hosts[3]!.name];
  await Promise.all([fleet.resetHost(ok), fleet.resetHost(bad)]);
  dir = mkdtempSync(join(tmpdir(), 'drover-ci-secrets-'));
  writeFileSync(join(dir, 'pw.txt'), `${VAULT_PASSWORD}\n`);
  // The vault data is made by the peer tool: drover must read what ansible-vault writes.
  writeFileSync(join(dir, 'secrets.yml'), `db_password: ${FILE_SECRET}\n`);
  const vault = ['--vault-password-file', join(dir, 'pw.txt')];
  await must(
    runCommand('ansible-vault', ['encrypt', ...vault, join(dir, 'secrets.yml')]),
    'ansible-vault encrypt',
  );
  const inline = await must(
    runCommand('ansible-vault', ['encrypt_string', ...vault, INLINE_SECRET, '--name', 'api_token']),
    'ansible-vault encrypt_string',
  );
  writeFileSync(join(dir, 'site.yml'), playbook(inline.stdout));
  writeFileSync(join(dir, 'app.conf.j2'), 'password={{ db_password }}\ntoken={{ api_token }}\nplain=1\n');
  writeFileSync(
    join(dir, 'down.ini'),
    `[down]\ndown1 ansible_host=127.0.0.1 ansible_port=${DOWN_PORT} ansible_user=root ansible_password=${VAULT_PASSWORD}\n`,
  );
});

afterAll(async () => {
  await Promise.all([fleet.resetHost(ok), fleet.resetHost(bad)]);
  rmSync(dir, { recursive: true, force: true });
});

describe('planted secrets never reach any output', () => {
  it('json, summary, junit, github, html, human stdout/stderr at -vvvv: no secret anywhere', async () => {
    const out = (name: string) => join(dir, name);
    const files = {
      json: out('events.jsonl'),
      summary: out('summary.json'),
      junit: out('junit.xml'),
      github: out('annotations.txt'),
      html: out('report.html'),
    };
    const r = await runDrover(
      [
        'playbook',
        '-i',
        fleet.inventoryFile,
        '-i',
        join(dir, 'down.ini'),
        '-l',
        `${ok},${bad},down1`,
        join(dir, 'site.yml'),
        '--vault-password-file',
        join(dir, 'pw.txt'),
        '--diff',
        '-vvvv',
        ...Object.entries(files).flatMap(([format, path]) => ['--output', `${format}:${path}`]),
      ],
      { env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' }, timeoutMs: 90_000 },
    );
    // A failed host and an unreachable one: Ansible's code for unreachable wins.
    expect(r.code, r.stdout + r.stderr).toBe(4);

    const outputs: Record<string, string> = { stdout: r.stdout, stderr: r.stderr };
    for (const [k, p] of Object.entries(files)) outputs[k] = readFileSync(p, 'utf8');
    for (const [name, text] of Object.entries(outputs)) {
      for (const s of SECRETS) {
        const at = text.indexOf(s);
        expect(at, `${name} leaks ${s}: ...${text.slice(Math.max(0, at - 80), at + 40)}...`).toBe(-1);
      }
    }
    // The secrets did flow: every format shows the mask where they were.
    for (const name of ['stdout', 'json', 'summary', 'junit', 'github', 'html'])
      expect(outputs[name], name).toContain('********');
    // ... and the host got the real value.
    const conf = await runSsh(fleet, ok, 'cat /srv/ci-secret.conf');
    expect(conf.stdout).toBe(`password=${FILE_SECRET}\ntoken=${INLINE_SECRET}\nplain=1\n`);

    // What each output should hold, masked.
    expect(r.stdout).toContain('TASK [deploy for ********]');
    expect(r.stdout).toContain('+password=********');
    expect(r.stdout).toContain("'no_log: true' was specified for this result");
    expect(r.stdout).toContain('(item=********)');
    expect(outputs.github).toContain(
      `title=fail with the secret::${bad}: cannot log in with ******** / ********`,
    );
    expect(outputs.github).toContain('down1: UNREACHABLE');
    const events = outputs
      .json!.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { v: number; type: string; status?: string });
    expect(events.every((e) => e.v === 1)).toBe(true);
    const statuses = new Set(events.filter((e) => e.type === 'host.result').map((e) => e.status));
    for (const s of ['ok', 'changed', 'failed', 'skipped', 'unreachable', 'ignored'])
      expect(statuses).toContain(s);
    const summary = JSON.parse(outputs.summary!) as { failures: { host: string; msg: string }[] };
    expect(summary.failures.map((f) => f.host).sort()).toEqual([bad, 'down1'].sort());

    // The JUnit file of this real run (ok, changed, failed, skipped, unreachable) validates.
    const v = validateJUnit(outputs.junit!);
    expect(v.valid, v.output).toBe(true);
    for (const tag of ['<failure ', '<error ', '<skipped ']) expect(outputs.junit).toContain(tag);

    expect(outputs.html).toContain('<section id="timeline">');
    expect(outputs.html).toContain('<span class="da">+password=********</span>');
  });

  it('drover exec with a vault extra vars file: every output masked', async () => {
    const files = ['json', 'summary', 'junit', 'github', 'html'].map(
      (f) => [f, join(dir, `exec.${f}`)] as const,
    );
    const r = await runDrover(
      [
        'exec',
        ok,
        '-i',
        fleet.inventoryFile,
        '-m',
        'shell',
        '-a',
        'echo "token {{ db_password }}"; exit 3',
        '-e',
        `@${join(dir, 'secrets.yml')}`,
        '--vault-password-file',
        join(dir, 'pw.txt'),
        '-vvvv',
        ...files.flatMap(([f, p]) => ['--output', `${f}:${p}`]),
      ],
      { env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' } },
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('token ********');
    const outputs = [r.stdout, r.stderr, ...files.map(([, p]) => readFileSync(p, 'utf8'))];
    for (const text of outputs) for (const s of SECRETS) expect(text).not.toContain(s);
    // The formats that carry the command's output show it masked (summary and annotations
    // carry only the message, "non-zero return code").
    for (const [f, p] of files.filter(([f]) => ['json', 'junit', 'html'].includes(f)))
      expect(readFileSync(p, 'utf8'), f).toContain('token ********');
  });

  it('error messages that end the command are masked too; a wrong password names the file only', async () => {
    // A file name templated from a vault-encrypted extra var: the "not found" error quotes it.
    writeFileSync(join(dir, 'names.yml'), `tasks_name: ${FILE_SECRET}\n`);
    const vault = ['--vault-password-file', join(dir, 'pw.txt')];
    await must(
      runCommand('ansible-vault', ['encrypt', ...vault, join(dir, 'names.yml')]),
      'ansible-vault encrypt',
    );
    writeFileSync(
      join(dir, 'import.yml'),
      '- hosts: all\n  tasks:\n    - import_tasks: "{{ tasks_name }}.yml"\n',
    );
    const env = { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' };
    const args = [
      '-i',
      fleet.inventoryFile,
      '-l',
      ok,
      join(dir, 'import.yml'),
      '-e',
      `@${join(dir, 'names.yml')}`,
    ];
    const r = await runDrover(['playbook', ...args, ...vault, '-vvvv'], { env });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain("could not find or access the imported tasks file '********.yml'");
    const lint = await runDrover(['lint', ...args.filter((a) => a !== '-l' && a !== ok), ...vault], { env });
    expect(lint.stdout).toContain("'********.yml'");

    writeFileSync(join(dir, 'wrong.txt'), 'not-the-password\n');
    const wrong = await runDrover(
      [
        'playbook',
        '-i',
        fleet.inventoryFile,
        '-l',
        ok,
        join(dir, 'site.yml'),
        '--vault-password-file',
        join(dir, 'wrong.txt'),
      ],
      { env },
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/secrets\.yml|site\.yml/);
    for (const text of [r.stdout, r.stderr, lint.stdout, lint.stderr, wrong.stdout, wrong.stderr])
      for (const s of [...SECRETS, 'not-the-password']) expect(text).not.toContain(s);
  });
});
