import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStale } from '../../../src/machine/cleanup.js';
import {
  attachHost,
  bootFstab,
  bootHost,
  bootScript,
  MachineError,
  stopHostDir,
} from '../../../src/machine/host.js';
import { findFreePortRange } from '../../../src/machine/ports.js';
import { isRunning, processesMountingUnder, processesRootedUnder } from '../../../src/machine/processes.js';
import { readState } from '../../../src/machine/state.js';

// Real namespaces, no sshd and no ports: needs root, like the whole lab.
const asRoot = process.getuid?.() === 0;

async function waitForFile(path: string, ms = 5000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    // A line is complete once its newline is there: the writer may be between open and write.
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text;
    if (Date.now() > end) throw new Error(`${path} never got a complete line`);
    await sleep(10);
  }
}

describe.skipIf(!asRoot)('bootHost (real namespaces)', () => {
  let base: string;
  const cleanups: string[] = [];
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'drover-machine-'));
  });
  afterAll(async () => {
    await cleanupStale(base);
    await rm(base, { recursive: true, force: true });
    for (const d of cleanups) await rm(d, { recursive: true, force: true });
  });

  it('stacks lower dirs, binds, hides, sets the hostname and runs the command as PID 1', async () => {
    // A second lower layer on the root filesystem would lie inside `/`: overlayfs refuses that.
    const top = await mkdtemp('/dev/shm/drover-machine-top-');
    cleanups.push(top);
    const out = join(base, 'out');
    const secret = join(base, 'secret');
    await mkdir(join(top, 'etc'), { recursive: true });
    await writeFile(join(top, 'etc', 'layer-probe'), 'from top layer\n');
    await mkdir(out);
    await mkdir(secret);
    await writeFile(join(secret, 'key'), 'hidden');
    const host = await bootHost({
      name: 'm1',
      hostDir: join(base, 'm1'),
      hostname: 'machine-one',
      lowerDirs: [top, '/'],
      binds: [{ source: out, target: '/out' }],
      hide: [secret],
      command: [
        '/bin/sh',
        '-c',
        'exec > /out/report; hostname; echo $$; cat /etc/layer-probe; ls -A ' +
          secret +
          ' | wc -l; echo upper-write > /etc/written; echo done; exec sleep 600',
      ],
    });
    const report = await waitForFile(join(out, 'report'));
    const end = Date.now() + 5000;
    let text = report;
    while (!text.includes('done') && Date.now() < end) {
      await sleep(10);
      text = await readFile(join(out, 'report'), 'utf8');
    }
    expect(text).toBe('machine-one\n1\nfrom top layer\n0\ndone\n');
    expect(await readFile(join(host.upperDir, 'etc', 'written'), 'utf8')).toBe('upper-write\n');
    expect(await readFile('/etc/written', 'utf8').catch(() => 'absent')).toBe('absent');
    const state = await readState(host.hostDir);
    expect(state?.pid).toBe(host.pid);
    expect((await attachHost(host.hostDir))?.pid).toBe(host.pid);

    await host.stop({ graceMs: 0 });
    expect(await isRunning(host.pid)).toBe(false);
    expect(await processesRootedUnder([host.hostDir])).toEqual([]);
    expect(await processesMountingUnder(host.hostDir)).toEqual([]);
    expect(await readState(host.hostDir)).toBeUndefined();
    expect(await attachHost(host.hostDir)).toBeUndefined();
  });

  it('cleanupStale ends a host whose launcher is forgotten, session children included', async () => {
    const host = await bootHost({
      name: 'm2',
      hostDir: join(base, 'm2'),
      // A child in its own session: the trap sshd's per-connection children set.
      command: ['/bin/sh', '-c', 'setsid sleep 600 & exec sleep 600'],
    });
    const end = Date.now() + 5000;
    while ((await processesRootedUnder([host.hostDir])).length < 2 && Date.now() < end) await sleep(10);
    expect((await processesRootedUnder([host.hostDir])).length).toBe(2);
    const report = await cleanupStale(base);
    expect(report.hosts).toContain(host.hostDir);
    expect(await processesRootedUnder([base])).toEqual([]);
    expect(await processesMountingUnder(base)).toEqual([]);
  });

  it('reports a command that exits at once, with its output', async () => {
    const err = await bootHost({
      name: 'm3',
      hostDir: join(base, 'm3'),
      command: ['/bin/sh', '-c', 'echo no-such-daemon >&2; exit 3'],
      ports: [await findFreePortRange(1, 22590)],
      readyTimeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineError);
    expect((err as Error).message).toContain('m3');
    expect((err as Error).message).toContain('no-such-daemon');
    expect(await processesRootedUnder([join(base, 'm3')])).toEqual([]);
  });

  it("boots a foreign root filesystem (not the machine's /), as image builds do", async () => {
    // The smallest rootfs: dash and the libraries ldd names, nothing else (no /proc, /dev, /run).
    const rootfs = join(base, 'rootfs');
    const dash = await realpath('/bin/dash');
    const libs = execFileSync('ldd', [dash], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined);
    for (const file of [dash, ...libs]) {
      const target = join(rootfs, file === dash ? '/bin/sh' : file);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file, target);
      await chmod(target, 0o755);
    }
    const out = join(base, 'out-rootfs');
    await mkdir(out);
    execFileSync('mkfifo', [join(out, 'fifo')]);
    const host = await bootHost({
      name: 'img',
      hostDir: join(base, 'img'),
      lowerDirs: [rootfs],
      binds: [{ source: out, target: '/out' }],
      command: [
        '/bin/sh',
        '-c',
        'read h < /proc/sys/kernel/hostname; ' +
          'if [ -e /etc/passwd ]; then r=machine; else r=own; fi; ' +
          'echo "pid=$$ host=$h root=$r" > /out/report; ' +
          // No sleep binary here: opening a FIFO nobody writes blocks without using CPU.
          'read x < /out/fifo',
      ],
    });
    try {
      const text = await waitForFile(join(out, 'report'));
      expect(text).toBe('pid=1 host=img root=own\n');
      // The mount points the boot script needed were created in the upper layer.
      for (const d of ['proc', 'dev', 'sys', 'run']) expect(existsSync(join(host.upperDir, d))).toBe(true);
    } finally {
      await host.stop({ graceMs: 0 });
    }
    expect(await processesRootedUnder([host.hostDir])).toEqual([]);
  });

  it('refuses a lower layer nested in another on the same filesystem', async () => {
    const nested = join(base, 'nested-top');
    await mkdir(nested, { recursive: true });
    await expect(
      bootHost({ name: 'nest', hostDir: join(base, 'nest'), lowerDirs: [nested, '/'], command: ['true'] }),
    ).rejects.toThrow(/lies inside lower dir/);
  });

  it('refuses layer paths overlayfs options cannot carry', async () => {
    await expect(bootHost({ name: 'bad', hostDir: join(base, 'a,b'), command: ['true'] })).rejects.toThrow(
      /overlayfs options/,
    );
    await expect(
      bootHost({ name: 'bad', hostDir: join(base, 'ok'), lowerDirs: ['relative'], command: ['true'] }),
    ).rejects.toThrow(/absolute/);
  });

  it('stopHostDir on a host that never ran is a no-op', async () => {
    await expect(stopHostDir(join(base, 'never'))).resolves.toBeUndefined();
  });
});

describe('bootScript and bootFstab', () => {
  const spec = {
    name: 'x',
    hostDir: '/h',
    hostname: "it's",
    command: ['/bin/echo', "it's"],
    binds: [{ source: '/a b', target: '/c', readOnly: true }],
    hide: ['/secret dir'],
  };
  const layers = { root: '/h/root', upper: '/h/upper', work: '/h/work', fstab: '/h/fstab' };

  it('quotes every value and ends by exec-ing the command in the chroot', () => {
    const lines = bootScript(spec, layers).split('\n');
    expect(lines).toContain(`printf %s 'it'\\''s' > /proc/sys/kernel/hostname`);
    expect(lines).toContain('mount --all --fstab /h/fstab');
    expect(lines).toContain(
      "if [ -d '/h/root/secret dir' ]; then mount -t tmpfs -o ro,nosuid,nodev,mode=755,size=4k drover-hide '/h/root/secret dir'; fi",
    );
    expect(lines.at(-1)).toBe(`exec chroot /h/root /bin/echo 'it'\\''s'`);
  });

  it('mounts the overlay first, escapes blanks, and binds read-only on request', () => {
    const rows = bootFstab(spec, layers).trim().split('\n');
    expect(rows[0]).toBe('overlay /h/root overlay lowerdir=/,upperdir=/h/upper,workdir=/h/work 0 0');
    expect(rows.at(-1)).toBe('/a\\040b /h/root/c none rbind,X-mount.mkdir,ro 0 0');
    // Distinct sources: `mount --all` must not mistake the rbound /dev/shm for ours.
    expect(rows.find((r) => r.includes('/h/root/dev/shm '))?.split(' ')[0]).toBe('drover-shm');
  });
});
