import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normaliseArgs } from '../../../cli/build.js';
import { loadTemplate, selected } from '../../../src/build/template.js';
import { ValidationError } from '../../../src/errors.js';

const dir = join(import.meta.dirname, '../../fixtures/build');
const fixture = (name: string) => join(dir, name);

function problemsOf(file: string, input: Parameters<typeof loadTemplate>[1] = { env: {} }): string[] {
  try {
    loadTemplate(file, input);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return e.problems
      .filter((p) => p.severity !== 'warning')
      .map((p) => `${p.pos ? `${p.pos.line}:${p.pos.col} ` : ''}${p.message}${p.hint ? ` | ${p.hint}` : ''}`);
  }
  return [];
}

// Each bad template: the one problem it must report, with line:col and a hint where one helps.
const BAD: Record<string, RegExp[]> = {
  'unknown-source-type.yml': [/^3:11 unknown source type 'debain' in source deb \| did you mean 'debian'\?$/],
  'undefined-variable.yml': [/^8:12 undefined variable 'suit' \| did you mean 'suite'\?$/],
  'missing-script.yml': [/^7:15 script of shell provisioner scripts\/does-not-exist\.sh does not exist/],
  'bad-yaml.yml': [/^4:1 YAML syntax error: All mapping items must start at the same column$/],
  'wrong-type.yml': [/^4:14 variable retries must be a number, got a string \(from default\)$/],
  'unknown-key.yml': [/^4:5 unknown key 'inclde' in source deb \(type debian\) \| did you mean 'include'\?$/],
  'unknown-provisioner.yml': [/^8:13 unknown provisioner type 'ansible' \| did you mean 'playbook'\?$/],
  'missing-playbook.yml': [
    /^7:22 playbook_file of playbook provisioner \.\.\/\.\.\/playbooks\/nope\.yml does not exist/,
  ],
  'undefined-source.yml': [
    /^4:13 build default uses source 'debain', which is not defined \| did you mean 'debian'\?$/,
  ],
  'bad-duration.yml': [
    /^8:16 timeout of shell provisioner must be a duration like 30s, 5m or 1h, got "five minutes"$/,
  ],
  'failed-validation.yml': [
    /^6:20 invalid value for variable suite: only bookworm and trixie are supported$/,
  ],
  'no-value.yml': [
    /^2:3 variable admin_password has no value \| give it a default, or pass -var admin_password=VALUE/,
  ],
  'ssh-without-port.yml': [/^4:5 source deb uses communicator ssh and needs ssh_port/],
  'unknown-post-processor.yml': [
    /^6:13 unknown post-processor type 'oci-archiv' \| did you mean 'oci-archive'\?$/,
  ],
  'many-problems.yml': [
    /^7:5 unknown key 'varient' .* did you mean 'variant'\?$/,
    /^12:15 undefined variable 'missing_var'/,
    /^14:15 source of file provisioner no-such-file\.txt does not exist/,
    /^18:23 checksum type 'sha257' is not one of sha256, sha512 \| did you mean 'sha256'\?$/,
  ],
};

describe('build template validation', () => {
  it('has a fixture test for every bad template in test/fixtures/build', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yml') && f !== 'valid.yml');
    expect(files.sort()).toEqual(Object.keys(BAD).sort());
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  for (const [file, expected] of Object.entries(BAD)) {
    it(`${file}: every problem, with its location`, () => {
      const got = problemsOf(fixture(file));
      expect(got).toHaveLength(expected.length);
      for (const [i, re] of expected.entries()) expect(got[i]).toMatch(re);
    });
  }

  it('loads a valid template: types, locals, chained builds, only/except', () => {
    const t = loadTemplate(fixture('valid.yml'), { env: {} });
    expect(t.builds.map((b) => b.name)).toEqual(['base', 'child']);
    const base = t.builds[0]!;
    expect(base.image.tag).toBe('img-bookworm-25301');
    expect(base.sources.map((s) => s.name)).toEqual(['deb', 'sshy']);
    expect(base.sources[0]!.spec).toMatchObject({
      type: 'debian',
      include: ['openssh-server'],
      variant: 'minbase',
    });
    expect(base.sources[1]).toMatchObject({ communicator: 'ssh', sshPort: 25301 });
    const shell = base.provisioners[0]!;
    expect(shell).toMatchObject({
      type: 'shell',
      inline: ['echo img-bookworm'],
      maxRetries: 2,
      pauseBeforeMs: 1000,
    });
    expect(selected(shell, base.sources[0]!)).toBe(true);
    expect(selected(shell, base.sources[1]!)).toBe(false);
    expect(base.provisioners[1]).toMatchObject({ type: 'breakpoint', disable: true });
    expect(t.builds[1]!.sources[0]!.spec).toEqual({ type: 'build', build: 'base' });
    expect(t.secrets).toEqual(['s3cr3t-value']);
  });

  it('takes values from -var over -var-file over DROVER_VAR_ over the default, converted to the declared type', () => {
    const t = loadTemplate(fixture('valid.yml'), {
      env: { DROVER_VAR_suite: 'trixie', DROVER_VAR_port: '25302' },
      vars: ['port=25303', 'debug=true', 'packages=[a, b]'],
    });
    expect(t.variables.find((v) => v.name === 'suite')).toMatchObject({
      value: 'trixie',
      origin: 'environment variable DROVER_VAR_suite',
    });
    expect(t.variables.find((v) => v.name === 'port')).toMatchObject({ value: 25303, origin: '-var' });
    expect(t.builds[0]!.provisioners[1]).toMatchObject({ disable: false });
    expect(t.builds[0]!.sources[0]!.spec).toMatchObject({ include: ['a', 'b'] });
  });

  it('takes -var-file values (YAML), accepts an empty file and names undeclared keys with their place', () => {
    const t = loadTemplate(fixture('valid.yml'), {
      env: {},
      varFiles: ['/dev/null', fixture('vars/vars.yml')],
    });
    expect(t.variables.find((v) => v.name === 'suite')).toMatchObject({ value: 'trixie' });
    expect(problemsOf(fixture('valid.yml'), { env: {}, varFiles: [fixture('vars/typo.yml')] })).toEqual([
      "2:1 undefined variable 'suit' assigned in " + fixture('vars/typo.yml') + " | did you mean 'suite'?",
    ]);
  });

  it('reports -var problems: undeclared names with a suggestion, values of the wrong type', () => {
    const got = problemsOf(fixture('valid.yml'), { env: {}, vars: ['suit=trixie', 'port=many'] });
    expect(got).toEqual([
      "undefined variable 'suit' set with -var | did you mean 'suite'?",
      expect.stringMatching(/variable port \(from -var\): 'many' is not a number$/),
    ]);
  });
});

describe('Packer-style flags', () => {
  it('turns single-dash long flags into commander long flags, leaving the rest', () => {
    expect(
      normaliseArgs([
        '-var',
        'a=1',
        '-var-file=x.yml',
        '-only=base.*',
        '-force',
        '-v',
        't.yml',
        '--',
        '-var',
      ]),
    ).toEqual(['--var', 'a=1', '--var-file=x.yml', '--only=base.*', '--force', '-v', 't.yml', '--', '-var']);
  });
});
