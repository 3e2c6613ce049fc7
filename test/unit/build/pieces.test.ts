import { describe, expect, it } from 'vitest';
import { HumanBuildReporter, JsonBuildReporter } from '../../../src/build/report.js';
import { aptMirror } from '../../../src/build/sources.js';
import { bootFstab, bootScript } from '../../../src/machine/host.js';
import { Redactor } from '../../../src/output/redact.js';
import { nsexecLauncher } from '../../../src/transport/nsexec.js';

const layers = { root: '/b/i/root', upper: '/b/i/upper', work: '/b/i/work', fstab: '/b/i/fstab' };

describe('build instance pieces', () => {
  it('a minimal /dev is a tmpfs with devpts, not the machine /dev; the fleet default is unchanged', () => {
    const spec = { name: 'x', hostDir: '/b/i', lowerDirs: ['/r'], command: ['/bin/sh'] };
    const minimal = bootFstab({ ...spec, dev: 'minimal' }, layers);
    expect(minimal).toContain('drover-dev /b/i/root/dev tmpfs');
    expect(minimal).toContain('devpts /b/i/root/dev/pts devpts newinstance');
    expect(minimal).not.toMatch(/^\/dev /m);
    expect(bootScript({ ...spec, dev: 'minimal' }, layers)).toContain('mknod -m 666 /b/i/root/dev/$n c');
    const fleet = bootFstab(spec, layers);
    expect(fleet).toMatch(/^\/dev \/b\/i\/root\/dev none rbind/m);
    expect(fleet).not.toContain('drover-dev');
    expect(bootScript(spec, layers)).not.toContain('mknod');
  });

  it('the nsexec launcher enters every namespace and the root, with a clean environment', () => {
    const l = nsexecLauncher(4242, { PATH: '/usr/bin:/bin', HOME: '/root' });
    expect(l).toBe(
      '#!/bin/sh\nexec env -i PATH=/usr/bin:/bin HOME=/root nsenter --target 4242 --mount --uts --pid --root --wd -- /bin/sh "$@"\n',
    );
  });

  it("reads the Debian mirror from apt's deb822 sources", () => {
    expect(aptMirror('/etc/apt')).toMatch(/^https?:\/\/\S+\/debian\/?$/);
    expect(aptMirror('/nonexistent')).toBe('http://deb.debian.org/debian');
  });
});

describe('build reporters', () => {
  const redactor = new Redactor();
  redactor.add('hunter2-secret');

  it("prints Packer's prefixes, step output line by line, and masks secrets", () => {
    let out = '';
    const r = new HumanBuildReporter({ write: (s) => (out += s) }, redactor);
    r.emit({ type: 'build.say', build: 'base.debian', message: 'booting' });
    r.emit({ type: 'build.output', build: 'base.debian', step: 'shell', stream: 'stdout', text: 'one\ntw' });
    r.emit({
      type: 'build.output',
      build: 'base.debian',
      step: 'shell',
      stream: 'stdout',
      text: 'o hunter2-secret\n',
    });
    r.emit({ type: 'build.step', build: 'base.debian', step: 'shell', index: 1, total: 2, status: 'cached' });
    r.close();
    expect(out).toBe(
      '==> base.debian: booting\n    base.debian: one\n    base.debian: two ********\n==> base.debian: shell: unchanged inputs, skipped (cached)\n',
    );
  });

  it('writes JSON lines events with the schema version, secrets masked', () => {
    let out = '';
    const r = new JsonBuildReporter({ write: (s) => (out += s) }, redactor);
    r.emit({ type: 'build.end', build: 'b.s', status: 'failed', durationMs: 5, error: 'pw hunter2-secret' });
    expect(JSON.parse(out)).toEqual({
      v: 1,
      type: 'build.end',
      build: 'b.s',
      status: 'failed',
      durationMs: 5,
      error: 'pw ********',
    });
  });
});
