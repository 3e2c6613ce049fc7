/**
 * `drover build` end to end: the example image (images/base.yml) built cold, warm and
 * re-provisioned with equal digests; skopeo and umoci accept it; a host booted from it runs
 * sshd and `drover playbook` reaches it beside a test-fleet host. The step cache, failing,
 * killed and interrupted builds run on a tiny busybox rootfs (no layer cost). The Debian
 * rootfs is made once per run (mmdebstrap, ~15-30 s on a quiet machine).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStale } from '../../src/machine/cleanup.js';
import { bootHost } from '../../src/machine/host.js';
import { processesRootedUnder } from '../../src/machine/processes.js';
import type { Fleet } from '../lab/fleet.js';
import { repoRoot } from '../lab/repo-root.js';
import { runCommand, runDrover, useFleet } from '../lab/use-fleet.js';

const root = repoRoot();
const work = join(root, '.lab', 'build-e2e');
const buildDir = join(work, 'base');
const layout = join(buildDir, 'output', 'base.debian');
const IMAGE_HOST_PORT = 25310;
const env = { NO_COLOR: '1' };

let fleet: Fleet;

function digestOf(stdout: string): string | undefined {
  return /--> base\.debian: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
}

/** Mount points of the machine's mount table under `dir`. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
}

async function expectNothingLeft(dir: string): Promise<void> {
  expect(mountsUnder(dir)).toEqual([]);
  expect(await processesRootedUnder([dir])).toEqual([]);
  for (const sub of ['instances', 'tmp']) {
    const p = join(dir, sub);
    expect(existsSync(p) ? readdirSync(p) : []).toEqual([]);
  }
}

let tiny: Promise<string> | undefined;

/** A tiny rootfs (busybox and its libraries): enough for an instance's sh and simple steps, no layer cost. */
function tinyRootfs(): Promise<string> {
  tiny ??= (async () => {
    const rootfs = join(work, 'tiny', 'rootfs');
    const made = await runCommand('sh', [
      '-c',
      `set -e; mkdir -p ${rootfs}/bin ${rootfs}/etc/conf.d ${rootfs}/opt ${rootfs}/tmp
cp /usr/bin/busybox ${rootfs}/bin/
for l in $(ldd /usr/bin/busybox | grep -o '/[^ ]*'); do cp --parents -L "$l" ${rootfs}; done
for c in sh sleep echo rm mkdir ls cat chmod mv touch test; do ln -s busybox ${rootfs}/bin/$c; done
echo hello > ${rootfs}/etc/motd; touch ${rootfs}/etc/conf.d/old`,
    ]);
    if (made.code !== 0) throw new Error(`could not make the tiny rootfs: ${made.stderr}`);
    return rootfs;
  })();
  return tiny;
}

/** Starts a build whose step sleeps, and resolves once the step has printed `started`. */
async function startSlowBuild(name: string) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const tpl = join(dir, 'slow.yml');
  writeFileSync(
    tpl,
    `variables:
  pause: { type: number, default: 300 }
  code: { type: number, default: 0 }
sources:
  base: { type: directory, path: "${await tinyRootfs()}" }
build:
  name: slow
  sources: [base]
  provisioners:
    - type: shell
      inline: ["echo started", "sleep {{ pause }}", "exit {{ code }}"]
`,
  );
  const b = join(dir, 'b');
  const child = spawn(process.execPath, [join(root, 'dist/cli/drover.js'), 'build', '-build-dir', b, tpl], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "started" in 60 s: ${out}`)), 60_000);
    child.stdout.on('data', () => {
      if (out.includes('slow.base: started')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { tpl, b, child, output: () => out };
}

beforeAll(async () => {
  fleet = await useFleet();
  await cleanupStale(work);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
});

afterAll(async () => {
  await cleanupStale(work);
});

describe('drover build images/base.yml', () => {
  let digest: string | undefined;

  it('builds cold, then warm (every step cached, nothing downloaded) and re-provisioned (-force) to the same digest', async () => {
    const args = ['build', '-build-dir', buildDir, 'images/base.yml'];
    const cold = await runDrover(args, { env, timeoutMs: 240_000 });
    expect(cold.stderr).toBe('');
    expect(cold.code, cold.stdout + cold.stderr).toBe(0);
    expect(cold.stdout).toMatch(/==> base\.debian: base rootfs: made in/);
    expect(cold.stdout).toContain('    base.debian: PLAY RECAP');
    expect(cold.stdout).toMatch(/verify: playbook demo\.yml in --check mode must report changed=0/);
    expect(cold.stdout).toMatch(/==> base\.debian: verify done/);
    digest = digestOf(cold.stdout);
    expect(digest).toBeDefined();

    const warm = await runDrover(args, { env, timeoutMs: 60_000 });
    expect(warm.code, warm.stdout + warm.stderr).toBe(0);
    expect(warm.stdout).toContain('base rootfs: cached (nothing downloaded)');
    for (const step of ['prepare sshd', 'playbook demo.yml', 'slim down', 'verify'])
      expect(warm.stdout).toContain(`==> base.debian: ${step}: unchanged inputs, skipped (cached)`);
    expect(warm.stdout).not.toContain('booting instance');
    expect(digestOf(warm.stdout)).toBe(digest);

    const forced = await runDrover(['build', '-force', '-build-dir', buildDir, 'images/base.yml'], {
      env,
      timeoutMs: 120_000,
    });
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(forced.stdout).toContain('booting instance');
    expect(digestOf(forced.stdout)).toBe(digest);

    const manifest = JSON.parse(readFileSync(join(buildDir, 'output', 'manifest.json'), 'utf8')) as {
      builds: { name: string; artifact_id: string; files: { name: string }[] }[];
    };
    expect(manifest.builds.at(-1)).toMatchObject({ name: 'base', artifact_id: digest });
    const sums = readFileSync(join(buildDir, 'output', 'base.debian.SHA256SUMS'), 'utf8');
    expect(sums).toMatch(
      /^[0-9a-f]{64} {2}base\.debian\.oci\.tar\n[0-9a-f]{64} {2}base\.debian\.docker\.tar\n$/,
    );
    await expectNothingLeft(buildDir);
  }, 420_000); // mmdebstrap and the base layer: ~60 s on a quiet machine, several minutes on a busy one

  it('skopeo inspects it, umoci unpacks it, and the rootfs holds what the playbook configured', async () => {
    const inspect = await runCommand('skopeo', ['inspect', `oci:${layout}:latest`]);
    expect(inspect.code, inspect.stdout + inspect.stderr).toBe(0);
    const info = JSON.parse(inspect.stdout) as {
      Digest: string;
      Layers: string[];
      Labels: Record<string, string>;
    };
    expect(info.Digest).toBe(digest);
    expect(info.Layers).toHaveLength(2);
    expect(info.Labels['org.opencontainers.image.title']).toBe('drover/base-bookworm');

    const bundle = join(work, 'bundle');
    const unpack = await runCommand('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
    expect(unpack.stderr).not.toMatch(/error/i);
    expect(unpack.code, unpack.stdout + unpack.stderr).toBe(0);
    const rootfs = join(bundle, 'rootfs');
    expect(readFileSync(join(rootfs, 'etc/drover-demo.env'), 'utf8')).toBe('MANAGED_BY=drover\n');
    expect(readFileSync(join(rootfs, 'etc/drover-demo.conf'), 'utf8')).toMatch(
      /^host=debian\ndistribution=Debian 12/,
    );
    expect(existsSync(join(rootfs, 'var/lib/drover-demo'))).toBe(true);
    expect(existsSync(join(rootfs, 'usr/sbin/sshd'))).toBe(true);
    // Deleted in the build: whiteouts in the layer, so absent from the unpacked image.
    expect(readdirSync(join(rootfs, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
  });

  it('boots a host from the image with sshd; drover playbook reaches it over SSH beside a fleet host', async () => {
    const hostDir = join(work, 'host');
    const key = join(work, 'id_ed25519');
    await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    // The client key goes into the host's writable layer before boot, as cloud-init would.
    mkdirSync(join(hostDir, 'upper', 'root', '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(hostDir, 'upper', 'root', '.ssh', 'authorized_keys'), readFileSync(`${key}.pub`), {
      mode: 0o600,
    });
    const host = await bootHost({
      name: 'img01',
      hostDir,
      lowerDirs: [join(work, 'bundle', 'rootfs')],
      command: [
        '/bin/sh',
        '-c',
        `ssh-keygen -A && mkdir -p -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -p ${IMAGE_HOST_PORT} -o ListenAddress=127.0.0.1 -o UsePAM=no`,
      ],
      ports: [IMAGE_HOST_PORT],
      dev: 'minimal',
    });
    try {
      const inv = join(work, 'inventory.ini');
      writeFileSync(
        inv,
        `img01 ansible_host=127.0.0.1 ansible_port=${IMAGE_HOST_PORT} ansible_user=root ansible_ssh_private_key_file=${key} ansible_host_key_checking=false\n`,
      );
      const h = fleet.hosts[0]!.name;
      const r = await runDrover(
        ['playbook', '-i', fleet.inventoryFile, '-i', inv, '--limit', `img01,${h}`, 'playbooks/demo.yml'],
        { env: { ...env, ANSIBLE_CONFIG: fleet.ansibleCfgFile }, timeoutMs: 60_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/img01 +: ok=\d+ +changed=\d+ +unreachable=0 +failed=0/);
      expect(r.stdout).toMatch(new RegExp(`${h} +: ok=\\d+ +changed=\\d+ +unreachable=0 +failed=0`));
      // The host-specific file (host=img01) differs from the image's (host=debian).
      expect(r.stdout).toMatch(
        /TASK \[Record the controller's view of each host\][^\n]*\n(?:[^\n]*\n)*?changed: \[img01\]/,
      );
    } finally {
      await host.stop({ graceMs: 0 });
      await fleet.resetHost(fleet.hosts[0]!.name);
    }
  });

  it('a changed step reruns from there on (earlier steps kept), to the digest of a full rebuild', async () => {
    const dir = join(work, 'steps');
    mkdirSync(dir, { recursive: true });
    const rootfs = await tinyRootfs();
    const tpl = join(dir, 'steps.yml');
    writeFileSync(
      tpl,
      `variables:
  last: { type: string, default: one }
source_date_epoch: 1700000000
sources:
  tiny: { type: directory, path: "${rootfs}" }
build:
  name: steps
  sources: [tiny]
  provisioners:
    - type: shell
      name: first
      inline: ["echo first ran", "echo 1 > /opt/first", "rm /etc/motd", "rm -rf /etc/conf.d", "mkdir /etc/conf.d", "touch /etc/conf.d/new"]
    - type: shell
      name: second
      inline: ["echo second ran", "echo 2 > /opt/second"]
    - type: shell
      name: third
      inline: ["echo third ran", "echo {{ last }} > /opt/third", "ls /opt /etc/conf.d", "test ! -e /etc/motd"]
`,
    );
    const build = (args: string[], b = join(dir, 'b')) =>
      runDrover(['build', '-build-dir', b, ...args, tpl], { env, timeoutMs: 60_000 });
    const first = await build([]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    for (const step of ['first', 'second', 'third'])
      expect(first.stdout).toContain(`    steps.tiny: ${step} ran\n`);

    const changed = await build(['-var', 'last=two']);
    expect(changed.code, changed.stdout + changed.stderr).toBe(0);
    expect(changed.stdout).toContain('==> steps.tiny: first: unchanged inputs, skipped (cached)');
    expect(changed.stdout).toContain('==> steps.tiny: second: unchanged inputs, skipped (cached)');
    expect(changed.stdout).not.toMatch(/(first|second) ran/);
    // The kept writable layer carries files, a whiteout (motd) and an opaque dir (conf.d).
    expect(changed.stdout).toContain('    steps.tiny: third ran\n');
    expect(changed.stdout).toMatch(
      / {4}steps\.tiny: first\n {4}steps\.tiny: second\n {4}steps\.tiny: third\n/,
    );
    expect(changed.stdout).toMatch(/ {4}steps\.tiny: \/etc\/conf\.d:\n {4}steps\.tiny: new\n/);

    const full = await build(['-force', '-var', 'last=two'], join(dir, 'fresh'));
    expect(full.code, full.stdout + full.stderr).toBe(0);
    expect(full.stdout).toContain('    steps.tiny: first ran\n');
    const digest = (out: string) => /--> steps\.tiny: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    expect(digest(changed.stdout)).toBeDefined();
    expect(digest(full.stdout)).toBe(digest(changed.stdout));
    expect(digest(first.stdout)).not.toBe(digest(changed.stdout));
    await expectNothingLeft(join(dir, 'b'));
  });

  it('validate reports every problem with its location and exit code 4; inspect lists the steps', async () => {
    const bad = await runDrover(['build', 'validate', 'test/fixtures/build/many-problems.yml'], { env });
    expect(bad.code).toBe(4);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(
      /^ERROR! 4 problems found:\n {2}- test\/fixtures\/build\/many-problems\.yml:7:5: unknown key 'varient'/,
    );
    const ok = await runDrover(['build', 'validate', '-var', 'suite=trixie', 'images/base.yml'], { env });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('The configuration is valid.\n');
    const usage = await runDrover(['build', 'validate', '-var', 'suite=jessie', 'images/base.yml'], { env });
    expect(usage.code).toBe(4);
    expect(usage.stderr).toContain(
      'images/base.yml:12:20: invalid value for variable suite: the image is tested on',
    );
    const inspect = await runDrover(['build', 'inspect', 'images/base.yml'], { env });
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain(
      '  suite (string) = "bookworm"  [default]  Debian suite of the base rootfs',
    );
    expect(inspect.stdout).toMatch(
      /provisioners:\n {6}shell: prepare sshd\n {6}playbook: playbook demo\.yml\n {6}shell: slim down\n/,
    );
  });

  it('a failing provisioner exits non-zero with its output and leaves no mounts, processes or temp dirs', async () => {
    const dir = join(work, 'fail');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'fail.yml'),
      `sources:
  base:
    type: directory
    path: ${await tinyRootfs()}
build:
  name: broken
  sources: [base]
  provisioners:
    - type: shell
      inline:
        - echo about to fail
        - ls /no/such/dir
    - type: shell
      inline: [echo never runs]
`,
    );
    const r = await runDrover(['build', '-build-dir', join(dir, 'b'), join(dir, 'fail.yml')], {
      env,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('    broken.base: about to fail\n');
    expect(r.stdout).toMatch(/ {4}broken\.base: ls: .*\/no\/such\/dir.*: No such file or directory/);
    expect(r.stdout).toMatch(/==> broken\.base: shell failed \([\d.]+ s\): exit status 1/);
    expect(r.stdout).toContain('==> broken.base: cleaning up the instance');
    expect(r.stdout).not.toContain('never runs');
    expect(r.stdout).toMatch(/Build 'broken\.base' errored after/);
    await expectNothingLeft(join(dir, 'b'));
  });

  it('after kill -9 of a build, the next build in the dir removes the stale instance first, and leaves nothing', async () => {
    const { tpl, b, child } = await startSlowBuild('killed');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    // The instance outlives its killed builder: a sleep is still running inside it.
    expect((await processesRootedUnder([b])).length).toBeGreaterThan(0);

    // The rerun fails too (quickly, before any layer is written): nothing may be left either way.
    const again = await runDrover(['build', '-build-dir', b, '-var', 'pause=0', '-var', 'code=3', tpl], {
      env,
      timeoutMs: 60_000,
    });
    expect(again.code, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toMatch(/shell failed \([\d.]+ s\): exit status 3/);
    expect(again.stdout).toMatch(/removed leftovers of an earlier build: 1 instance\(s\)/);
    await expectNothingLeft(b);
  });

  it('Ctrl-C cancels the running step, removes the instance and exits 99', async () => {
    const { b, child, output } = await startSlowBuild('interrupted');
    const code = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    child.kill('SIGINT');
    expect(await code).toBe(99);
    expect(output()).toContain('==> slow.base: cleaning up the instance');
    expect(output()).toMatch(/Build 'slow\.base' was cancelled after/);
    await expectNothingLeft(b);
  });
});
