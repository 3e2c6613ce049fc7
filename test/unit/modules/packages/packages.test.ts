/**
 * Package modules. apt runs for real against this machine's dpkg/apt in ways that change
 * nothing (installed packages are ok, missing ones fail, installs/removals only in check
 * mode with `apt-get -s`). dnf/yum/apk run against stand-in tools on PATH that record their
 * argv. pip runs for real inside a scratch virtualenv (no package index is reachable, so
 * only decisions that need none are exercised).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { apk } from '../../../../modules/packages/apk.js';
import { apt, aptOptions } from '../../../../modules/packages/apt.js';
import { aptKey } from '../../../../modules/packages/apt-key.js';
import { aptRepository, editSources, suggestFilename } from '../../../../modules/packages/apt-repository.js';
import { packageModule } from '../../../../modules/packages/package.js';
import { pip } from '../../../../modules/packages/pip.js';
import { dnf, yum } from '../../../../modules/packages/rpm.js';
import { type AnyModule, isStep, type TaskResult } from '../../../../modules/types.js';
import { makeContext, runModule, runSh, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

const dpkgStatus = (p: string) =>
  spawnSync('dpkg-query', ['-W', '-f=$' + '{Status}', p], { encoding: 'utf8' }).stdout;

describe('apt (real apt/dpkg, changing nothing)', () => {
  it('an installed package is ok and runs no apt-get', async () => {
    const r = await runModule(apt, { name: ['coreutils', 'git'] });
    expect(r.result).toMatchObject({ changed: false, cache_updated: false });
  });

  it('a missing package fails naming it', async () => {
    const r = await runModule(apt, { name: 'drover-no-such-package-xyz' });
    expect(r.result).toMatchObject({
      failed: true,
      msg: "No package matching 'drover-no-such-package-xyz' is available",
    });
  });

  it('absent for a package that is not installed is ok', async () => {
    const r = await runModule(apt, { name: 'sl', state: 'absent' });
    expect(r.result.changed).toBe(false);
  });

  it('check mode install simulates with apt-get -s and installs nothing', async () => {
    const r = await runModule(apt, { name: 'sl', install_recommends: false }, { check: true });
    expect(r.result.changed).toBe(true);
    expect(String(r.result.stdout)).toMatch(/Inst sl /);
    expect(dpkgStatus('sl')).not.toContain('installed');
  });

  it('check mode removal of an installed package simulates it', async () => {
    const r = await runModule(apt, { name: 'git', state: 'absent' }, { check: true });
    expect(r.result.changed).toBe(true);
    expect(String(r.result.stdout)).toMatch(/Remv git /);
    expect(dpkgStatus('git')).toBe('install ok installed');
  });

  it('name=version pins: the installed version is ok, another version is an install', async () => {
    const ver = spawnSync('dpkg-query', ['-W', '-f=$' + '{Version}', 'git'], { encoding: 'utf8' }).stdout;
    expect((await runModule(apt, { name: `git=${ver}` })).result.changed).toBe(false);
    const other = await runModule(apt, { name: 'git=0.0.1-drover' }, { check: true });
    expect(other.result.failed).toBe(true);
    expect(String(other.result.msg)).toContain("Version '0.0.1-drover' for 'git' was not found");
  });

  it('update_cache within cache_valid_time does not touch the cache', async () => {
    const r = await runModule(apt, { update_cache: true, cache_valid_time: 10 ** 9 });
    expect(r.result).toMatchObject({ changed: false, cache_updated: false });
    expect(r.result.cache_update_time).toBeGreaterThan(0);
  });

  it('deb: a local package file is simulated in check mode; a missing file fails', async () => {
    mkdirSync(s.path('pkg/DEBIAN'), { recursive: true });
    writeFileSync(
      s.path('pkg/DEBIAN/control'),
      'Package: drover-test-deb\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@x>\nDescription: test\n',
    );
    spawnSync('dpkg-deb', ['-b', s.path('pkg'), s.path('t.deb')]);
    const r = await runModule(apt, { deb: s.path('t.deb') }, { check: true });
    expect(r.result.failed, String(r.result.msg)).toBeFalsy();
    expect(r.result.changed).toBe(true);
    // dpkg --simulate -i, as Ansible: its output is the result (and the --diff)
    expect(String(r.result.stdout)).toMatch(/Selecting previously unselected package drover-test-deb/);
    expect(dpkgStatus('drover-test-deb')).toBe('');
    const missing = await runModule(apt, { deb: s.path('nope.deb') }, { check: true });
    expect(missing.result).toMatchObject({ failed: true });
    expect(String(missing.result.msg)).toContain('nope.deb does not exist');
  });

  it("name='*' with latest simulates a full upgrade in check mode; deb needs state=present", async () => {
    const r = await runModule(apt, { name: '*', state: 'latest' }, { check: true });
    expect(r.result.failed, String(r.result.msg)).toBeFalsy();
    expect(String(r.scripts[0])).toContain('upgrade=safe\n');
    const mixed = await runModule(apt, { name: ['*', 'git'], state: 'latest' });
    expect(mixed.result.msg).toBe(
      'unable to install additional packages when upgrading all installed packages',
    );
    const deb = await runModule(apt, { deb: '/x.deb', state: 'absent' });
    expect(deb.result).toMatchObject({ failed: true, msg: 'deb only supports state=present' });
  });

  it('builds Ansible-shaped apt-get options', () => {
    const v = validateArgs('apt', apt.args, {
      name: 'x',
      install_recommends: false,
      default_release: 'bookworm-backports',
    });
    expect(aptOptions(v.args as never)).toEqual([
      '-o',
      'Dpkg::Options::=--force-confdef',
      '-o',
      'Dpkg::Options::=--force-confold',
      '-t',
      'bookworm-backports',
      '--no-install-recommends',
      '-o',
      'DPkg::Lock::Timeout=60',
    ]);
  });

  it('rejects deb together with name, before any host is contacted', () => {
    const v = validateArgs('apt', apt.args, { name: 'x', deb: '/tmp/x.deb' });
    expect(v.errors.join()).toContain('mutually exclusive');
  });
});

// Stand-ins: rpm answers "installed" for names listed in $FAKE/installed; every tool logs argv.
const TOOL = `#!/bin/sh
t=$(basename "$0")
{ printf '%s' "$t"; for a in "$@"; do printf '\\0%s' "$a"; done; printf '\\036'; } >> "$FAKE/log"
case "$t" in
  rpm) for last; do :; done; grep -Fxq -- "$last" "$FAKE/installed" ;;
  apk) [ "$1" = info ] && [ "$2" = -e ] && { grep -Fxq -- "$3" "$FAKE/installed"; exit; }; exit 0 ;;
  dnf|yum) [ "$2" = check-update ] && { for last; do :; done; grep -Fxq -- "$last" "$FAKE/upgradable" && exit 100; exit 0; }; exit 0 ;;
esac
`;

function fakeTools(): Record<string, string> {
  writeFileSync(s.path('tool'), TOOL);
  chmodSync(s.path('tool'), 0o755);
  mkdirSync(s.path('bin'));
  for (const t of ['rpm', 'dnf', 'yum', 'apk']) spawnSync('ln', ['-s', '../tool', s.path(`bin/${t}`)]);
  writeFileSync(s.path('installed'), 'bash\nvim-enhanced\n');
  writeFileSync(s.path('upgradable'), 'vim-enhanced\n');
  writeFileSync(s.path('log'), '');
  return { PATH: `${s.path('bin')}:${process.env.PATH}`, FAKE: s.dir };
}

async function runWith(
  mod: AnyModule,
  raw: Record<string, unknown>,
  env: Record<string, string>,
  check = false,
  facts: Record<string, unknown> = {},
) {
  const v = validateArgs(mod.names[0]!, mod.args, raw);
  expect(v.errors).toEqual([]);
  let next = await mod.plan(v.args, makeContext({ check, facts }));
  while (isStep(next)) {
    const r = await runSh(next.script, next.stdin, env);
    next = await next.parse(r);
  }
  return next as TaskResult;
}

function calls(tool: string): string[][] {
  return readFileSync(s.path('log'), 'utf8')
    .split('\x1e')
    .filter(Boolean)
    .map((l) => l.split('\0'))
    .filter((c) => c[0] === tool)
    .map((c) => c.slice(1));
}

describe.each([
  ['dnf', dnf],
  ['yum', yum],
])('%s (stand-in tools)', (tool, mod) => {
  it('installs only what rpm does not have, in one transaction', async () => {
    const env = fakeTools();
    const r = await runWith(mod, { name: ['bash', 'nginx', 'jq'], state: 'present' }, env);
    expect(r).toMatchObject({ changed: true, rc: 0, results: ['Installed: nginx', 'Installed: jq'] });
    const tx = calls(tool).filter((c) => c[0] === '-y');
    expect(tx).toEqual(
      tool === 'dnf' ? [['-y', 'install', 'nginx', 'jq']] : [['-y', 'install', 'nginx', 'jq']],
    );
  });

  it('is ok when everything is installed; latest upgrades what check-update lists', async () => {
    const env = fakeTools();
    expect((await runWith(mod, { name: ['bash'] }, env)).changed).toBe(false);
    const r = await runWith(mod, { name: ['bash', 'vim-enhanced'], state: 'latest' }, env);
    expect(r).toMatchObject({ changed: true, results: ['Upgraded: vim-enhanced'] });
  });

  it('removes installed packages; check mode runs no transaction', async () => {
    const env = fakeTools();
    const c = await runWith(mod, { name: ['bash', 'nope'], state: 'absent' }, env, true);
    expect(c.changed).toBe(true);
    expect(calls(tool).filter((x) => x[0] === '-y')).toEqual([]);
    const r = await runWith(mod, { name: ['bash', 'nope'], state: 'removed', disable_gpg_check: true }, env);
    expect(r.changed).toBe(true);
    expect(calls(tool).filter((x) => x[0] === '-y')).toEqual([['-y', '--nogpgcheck', 'remove', 'bash']]);
  });

  it.each(["we'ird pkg", '$(touch pwned)', '-rf', 'ü`x`'])('passes %j byte-exact', async (name) => {
    const env = fakeTools();
    await runWith(mod, { name: [name] }, env);
    expect(calls(tool).filter((c) => c[0] === '-y')).toEqual([['-y', 'install', name]]);
    expect(existsSync('pwned')).toBe(false);
  });
});

describe('apk (stand-in tools)', () => {
  it('adds missing, deletes present', async () => {
    const env = fakeTools();
    const add = await runWith(apk, { name: ['bash', 'curl'] }, env);
    expect(add).toMatchObject({ changed: true, packages: ['curl'] });
    expect(calls('apk').filter((c) => c[0] === 'add')).toEqual([['add', 'curl']]);
    const del = await runWith(apk, { name: 'bash', state: 'absent' }, env);
    expect(del.changed).toBe(true);
    expect(calls('apk').filter((c) => c[0] === 'del')).toEqual([['del', 'bash']]);
    expect((await runWith(apk, { name: 'bash' }, env)).changed).toBe(false);
  });
});

describe('package', () => {
  it('dispatches to apt from facts without an extra round trip', async () => {
    const r = await runModule(
      packageModule,
      { name: 'coreutils', state: 'present' },
      { facts: { ansible_pkg_mgr: 'apt' } },
    );
    expect(r.scripts).toHaveLength(1);
    expect(r.scripts[0]).toContain('apt-get');
    expect(r.result.changed).toBe(false);
  });

  it('detects the manager with one probe when facts are missing', async () => {
    const r = await runModule(packageModule, { name: 'coreutils', state: 'present' });
    expect(r.scripts).toHaveLength(2);
    expect(r.result.changed).toBe(false);
  });

  it('dispatches to dnf through facts and fails clearly for an unknown manager', async () => {
    // Facts say dnf, and only the stand-in dnf is reachable for the install: this machine's
    // apt must never be asked to install anything from a unit test.
    const env = fakeTools();
    const r = await runWith(packageModule, { name: 'nginx', state: 'present' }, env, false, {
      ansible_pkg_mgr: 'dnf',
    });
    expect(r).toMatchObject({ changed: true, results: ['Installed: nginx'] });
    expect(calls('dnf').filter((c) => c[0] === '-y')).toEqual([['-y', 'install', 'nginx']]);
    const bad = await runModule(packageModule, { name: 'x', state: 'present', use: 'pacman' });
    expect(String(bad.result.msg)).toContain('pacman');
  });
});

describe('apt_repository', () => {
  it('suggests filenames like Ansible', () => {
    expect(suggestFilename('deb http://dl.google.com/linux/chrome/deb/ stable main')).toBe(
      '/etc/apt/sources.list.d/dl_google_com_linux_chrome_deb.list',
    );
    expect(
      suggestFilename(
        'deb [arch=amd64 signed-by=/k.gpg] https://user:pw@repo.example.org/debian bookworm main',
      ),
    ).toBe('/etc/apt/sources.list.d/repo_example_org_debian.list');
    expect(suggestFilename('deb http://x/ y z', 'mine')).toBe('/etc/apt/sources.list.d/mine.list');
  });

  it('present: ok when an enabled copy exists anywhere, re-enables a commented one, else appends', () => {
    const files = new Map([
      ['/etc/apt/sources.list', 'deb http://deb.debian.org/debian bookworm main\n'],
      ['/etc/apt/sources.list.d/a.list', '# deb http://a.example/debian  bookworm main\n'],
    ]);
    expect(
      editSources(files, 'deb  http://deb.debian.org/debian bookworm main', 'present', '/x.list').changes
        .size,
    ).toBe(0);
    const re = editSources(files, 'deb http://a.example/debian bookworm main', 'present', '/x.list');
    expect([...re.changes]).toEqual([
      ['/etc/apt/sources.list.d/a.list', 'deb http://a.example/debian bookworm main\n'],
    ]);
    const add = editSources(files, 'deb http://b.example/ stable main', 'present', '/x.list');
    expect([...add.changes]).toEqual([['/x.list', 'deb http://b.example/ stable main\n']]);
  });

  it('check mode on this machine reads the real sources and writes nothing', async () => {
    const repo = 'deb [signed-by=/usr/share/keyrings/x.gpg] http://example.invalid/debian bookworm main';
    const r = await runModule(aptRepository, { repo }, { check: true, diff: true });
    expect(r.result).toMatchObject({
      changed: true,
      sources_added: ['/etc/apt/sources.list.d/example_invalid_debian.list'],
    });
    expect(r.scripts).toHaveLength(1);
    expect(existsSync('/etc/apt/sources.list.d/example_invalid_debian.list')).toBe(false);
    const gone = await runModule(aptRepository, { repo, state: 'absent' }, { check: true });
    expect(gone.result.changed).toBe(false);
  });

  it('absent removes the line from every file, emptying a file entirely', () => {
    const files = new Map([
      ['/l', 'deb http://a/ s main\n# keep\n'],
      ['/m', 'deb http://a/ s main\n'],
    ]);
    const r = editSources(files, 'deb http://a/ s main', 'absent', '/x');
    expect([...r.changes]).toEqual([
      ['/l', '# keep\n'],
      ['/m', ''],
    ]);
  });
});

describe('apt_key', () => {
  it('writes key data to a keyring file once', async () => {
    const keyring = s.path('keys/drover.gpg');
    mkdirSync(s.path('keys'));
    const r1 = await runModule(aptKey, { data: 'not-armored-binary-key', keyring });
    expect(r1.result).toMatchObject({ changed: true, keyring });
    expect(readFileSync(keyring, 'utf8')).toBe('not-armored-binary-key');
    const r2 = await runModule(aptKey, { data: 'not-armored-binary-key', keyring });
    expect(r2.result.changed).toBe(false);
  });
});

describe('pip (real, in a scratch virtualenv)', () => {
  const venvArgs = () => ({ virtualenv: s.path('venv'), virtualenv_command: '/usr/bin/python3 -m venv' });

  it('creates the virtualenv, then finds pip already present', async () => {
    const r = await runModule(pip, { name: 'pip', ...venvArgs() });
    expect(r.result.failed).toBeFalsy();
    expect(r.result.changed).toBe(true);
    expect(existsSync(s.path('venv/bin/pip'))).toBe(true);
    const again = await runModule(pip, { name: ['pip', 'setuptools'], ...venvArgs() });
    expect(again.result).toMatchObject({ changed: false, state: 'present', virtualenv: s.path('venv') });
  }, 60_000);

  it('absent for a package that is not installed is ok; check mode install reports a change', async () => {
    await runModule(pip, { name: 'pip', ...venvArgs() });
    const abs = await runModule(pip, { name: 'drover-not-installed', state: 'absent', ...venvArgs() });
    expect(abs.result.changed).toBe(false);
    const chk = await runModule(pip, { name: 'drover-not-installed', ...venvArgs() }, { check: true });
    expect(chk.result.changed).toBe(true);
    expect(String(chk.result.cmd)).toContain('install drover-not-installed');
  }, 60_000);

  it('pinned version mismatch needs an install, and its failure carries pip output', async () => {
    await runModule(pip, { name: 'pip', ...venvArgs() });
    const r = await runModule(pip, {
      name: 'pip',
      version: '0.0.1',
      extra_args: '--no-index',
      ...venvArgs(),
    });
    expect(r.result.failed).toBe(true);
    expect(String(r.result.msg)).toMatch(/No matching distribution|Could not find a version/);
  }, 60_000);
});
