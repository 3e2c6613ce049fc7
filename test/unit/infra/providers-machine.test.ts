/**
 * The `machine` resource type through the provider interface: real namespaced sshd hosts
 * (root needed, as for the whole lab), logged into with OpenSSH and strict host key checking.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attrs, ProviderContext } from '../../../src/infra/provider.js';
import { machine, nameFromAddress, parsePortRange } from '../../../src/infra/providers/machine.js';
import { mountsUnder } from '../../../src/machine/cleanup.js';
import { processesMountingUnder, processesRootedUnder } from '../../../src/machine/processes.js';
import { repoRoot } from '../../lab/repo-root.js';

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const RANGE = '25600-25619';

let dir: string;
let workDir: string;
const logs: string[] = [];

function ctx(address: string): ProviderContext {
  return { dir, workDir, address, log: (l) => logs.push(l), signal: new AbortController().signal };
}

async function ssh(m: Attrs, command: string): Promise<string> {
  const r = await run(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-i',
      String(m.private_key_path),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${String(m.known_hosts_file)}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-p',
      String(m.port),
      `${String(m.user)}@${String(m.address)}`,
      command,
    ],
    { encoding: 'utf8' },
  );
  return r.stdout.trim();
}

async function leftovers(d: string): Promise<{ procs: number[]; mounts: string[] }> {
  return {
    procs: [...(await processesRootedUnder([d])), ...(await processesMountingUnder(d))],
    mounts: await mountsUnder(d),
  };
}

beforeAll(async () => {
  const base = join(repoRoot(), '.lab');
  await run('mkdir', ['-p', base]);
  dir = await mkdtemp(join(base, 'infra-machine-unit-'));
  workDir = join(dir, '.drover', 'infra');
});

afterAll(async () => {
  if (dir) {
    const { cleanupStale } = await import('../../../src/machine/cleanup.js');
    await cleanupStale(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

describe('machine helpers', () => {
  it('derives names from addresses and parses port ranges', () => {
    expect(nameFromAddress('machine.web[0]')).toBe('web-0');
    expect(nameFromAddress('machine.db["eu west"]')).toBe('db-eu-west');
    expect(nameFromAddress('module.app.machine.api[2]')).toBe('app-api-2');
    expect(parsePortRange('25500-25599')).toEqual([25500, 25599]);
    expect(parsePortRange('80-90')).toBeUndefined();
    expect(parsePortRange('9-x')).toBeUndefined();
  });

  it('validates names, image/rootfs, ports and users with one message each', () => {
    const problems = machine.validate!({
      name: 'bad_name',
      image: 'docker://x',
      rootfs: '/srv/root',
      port_range: '10-5',
      port: 99,
      user: 'Root User',
    });
    expect(problems.map((p) => p.attribute)).toEqual([
      'name',
      'image',
      'image',
      'port_range',
      'port',
      'user',
    ]);
    expect(machine.validate!({ name: 'web-1', port_range: RANGE })).toEqual([]);
  });
});

describe.skipIf(!asRoot)('machine lifecycle', () => {
  it('boots an sshd host that outlives its handle, notices its death, and leaves nothing when deleted', async () => {
    const m = await machine.create({ port_range: RANGE, user: 'deploy' }, ctx('machine.web[0]'));
    expect(m).toMatchObject({ name: 'web-0', hostname: 'web-0', address: '127.0.0.1', user: 'deploy' });
    expect(Number(m.port)).toBeGreaterThanOrEqual(25600);
    expect(String(m.host_key)).toMatch(/^ssh-ed25519 /);
    const stateDir = String(m.state_dir);
    expect(stateDir.startsWith(workDir)).toBe(true);

    // Its own hostname, a user created with sudo, strict host key checking against known_hosts_file.
    expect(await ssh(m, 'hostname; id -un; sudo -n id -u')).toBe('web-0\ndeploy\n0');
    // The working dir (keys, other machines' layers) is hidden inside the host.
    expect(await ssh(m, `ls -A ${workDir} | wc -l`)).toBe('0');

    // Found again from its state dir by a fresh read (as a later `drover infra` process would).
    expect(await machine.read(m, ctx('machine.web[0]'))).toEqual(m);

    // A second machine at once gets another port.
    const m2 = await machine.create({ name: 'db', port_range: RANGE }, ctx('machine.db'));
    expect(m2.port).not.toBe(m.port);
    expect(await ssh(m2, 'hostname; id -un')).toBe('db\nroot');

    // Killed out of band: refresh says gone and cleans what it left.
    const st = JSON.parse(await readFile(join(stateDir, 'host.json'), 'utf8')) as { pid: number };
    process.kill(st.pid, 'SIGKILL');
    let gone: Attrs | undefined = m;
    for (let i = 0; i < 100 && gone; i++) {
      gone = await machine.read(m, ctx('machine.web[0]'));
      if (gone) await new Promise((r) => setTimeout(r, 50));
    }
    expect(gone).toBeUndefined();
    expect(await leftovers(stateDir)).toEqual({ procs: [], mounts: [] });
    await expect(readdir(stateDir)).rejects.toThrow(/ENOENT/);

    await machine.delete(m2, ctx('machine.db'));
    await machine.delete(m2, ctx('machine.db')); // already gone: fine
    expect(await leftovers(workDir)).toEqual({ procs: [], mounts: [] });
    await expect(readdir(join(workDir, 'machines'))).rejects.toThrow(/ENOENT/);
  });

  it('unpacks an OCI image (src/image) and refuses one without sshd, naming it, leaving nothing', async () => {
    const { layerFromDir, writeOciImage } = await import('../../../src/image/index.js');
    const tree = join(dir, 'tiny-rootfs');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc', 'os-release'), 'ID=tiny\n');
    const layout = join(dir, 'layout');
    const blobsDir = join(layout, 'blobs', 'sha256');
    await mkdir(blobsDir, { recursive: true });
    const layer = await layerFromDir(tree, { blobsDir, sourceDateEpoch: 0 });
    await writeOciImage({
      layoutDir: layout,
      tag: 'tiny',
      layers: [layer],
      config: {},
      history: [],
      sourceDateEpoch: 0,
    });
    await expect(
      machine.create({ image: 'oci:layout:tiny', port_range: RANGE }, ctx('machine.img')),
    ).rejects.toThrow(/machine\.img: oci:layout:tiny has no \/usr\/sbin\/sshd/);
    await expect(readdir(join(workDir, 'images'))).rejects.toThrow(/ENOENT/);
    await expect(
      machine.create({ image: 'oci:layout:nope', port_range: RANGE }, ctx('machine.img')),
    ).rejects.toThrow(/cannot read image oci:layout:nope: no image tagged 'nope'/);
  });

  it('deletes what a create killed mid-way booted, given only its address (state without attributes)', async () => {
    // As an apply killed after the boot but before the state write leaves it: running, unknown to state.
    const orphan = await machine.create({ port_range: RANGE }, ctx('machine.crash[0]'));
    await machine.delete({ port_range: RANGE }, ctx('machine.crash[0]'));
    expect(await leftovers(String(orphan.state_dir))).toEqual({ procs: [], mounts: [] });
    await expect(readdir(String(orphan.state_dir))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(workDir, 'known_hosts'), 'utf8').catch(() => '')).not.toContain(
      String(orphan.host_key),
    );
  });

  it('refuses a port in use, naming it, and leaves nothing behind', async () => {
    const m = await machine.create({ name: 'p1', port_range: RANGE }, ctx('machine.p1'));
    try {
      await expect(machine.create({ name: 'p2', port: m.port }, ctx('machine.p2'))).rejects.toThrow(
        new RegExp(`port 127\\.0\\.0\\.1:${String(m.port)} is already in use`),
      );
      const dirs = await readdir(join(workDir, 'machines'));
      expect(dirs.filter((d) => d.startsWith('p2~'))).toEqual([]);
    } finally {
      await machine.delete(m, ctx('machine.p1'));
    }
  });
});
