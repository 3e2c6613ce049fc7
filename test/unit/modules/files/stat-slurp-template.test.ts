import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { slurpModule } from '../../../../modules/files/slurp.js';
import { statModule } from '../../../../modules/files/stat.js';
import { templateModule } from '../../../../modules/files/template.js';
import { runModule, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

describe('stat', () => {
  it('reports a regular file with checksum and mode bits', async () => {
    writeFileSync(s.path('f'), 'abc');
    chmodSync(s.path('f'), 0o4751);
    const r = await runModule(statModule, { path: s.path('f') });
    expect(r.result.changed).toBe(false);
    expect(r.result.stat).toMatchObject({
      exists: true,
      isreg: true,
      isdir: false,
      islnk: false,
      size: 3,
      mode: '4751',
      isuid: true,
      xoth: true,
      woth: false,
      checksum: createHash('sha1').update('abc').digest('hex'),
      uid: process.getuid?.(),
    });
    const sha = await runModule(statModule, { path: s.path('f'), checksum_algorithm: 'sha256' });
    expect((sha.result.stat as { checksum: string }).checksum).toBe(
      createHash('sha256').update('abc').digest('hex'),
    );
  });

  it('reports links, directories and absence', async () => {
    mkdirSync(s.path('d'));
    symlinkSync('d', s.path('l'));
    const l = await runModule(statModule, { path: s.path('l') });
    expect(l.result.stat).toMatchObject({ islnk: true, lnk_target: 'd', lnk_source: s.path('d') });
    const f = await runModule(statModule, { path: s.path('l'), follow: true });
    expect(f.result.stat).toMatchObject({ islnk: false, isdir: true });
    const a = await runModule(statModule, { path: s.path('none') });
    expect(a.result.stat).toEqual({ exists: false });
  });
});

describe('slurp', () => {
  it('returns base64 of arbitrary bytes', async () => {
    const bytes = Buffer.from([0, 255, 10, 13, 39, 36, 96]);
    writeFileSync(s.path('bin'), bytes);
    const r = await runModule(slurpModule, { src: s.path('bin') });
    expect(r.result).toMatchObject({ changed: false, encoding: 'base64', content: bytes.toString('base64') });
    const m = await runModule(slurpModule, { path: s.path('missing') });
    expect(m.result).toMatchObject({ failed: true, msg: `file not found: ${s.path('missing')}` });
  });
});

describe('template', () => {
  it('renders through ctx.render and writes like copy', async () => {
    const ctl = scratch();
    try {
      writeFileSync(`${ctl.dir}/app.conf.j2`, 'port={{ port }}\nname=x\n');
      const files = {
        find: (_k: string, p: string) => `${ctl.dir}/${p}`,
        read: async (p: string) => readFileSync(p),
      };
      const render = async (src: string) => src.replace('{{ port }}', '8080');
      mkdirSync(s.path('etc'));
      const r = await runModule(
        templateModule,
        { src: 'app.conf.j2', dest: s.path('etc'), mode: '0600' },
        { files, render, diff: true },
      );
      expect(r.result).toMatchObject({ changed: true, dest: s.path('etc/app.conf.j2'), mode: '0600' });
      expect(r.result.diff).toMatchObject({
        before: '',
        after: 'port=8080\nname=x\n',
        // Ansible names its rendered temp file here; drover names no file
        after_header: 'dynamically generated',
      });
      expect(readFileSync(s.path('etc/app.conf.j2'), 'utf8')).toBe('port=8080\nname=x\n');
      const again = await runModule(
        templateModule,
        { src: 'app.conf.j2', dest: s.path('etc/app.conf.j2'), mode: '0600' },
        { files, render },
      );
      expect(again.result.changed).toBe(false);
      const crlf = await runModule(
        templateModule,
        { src: 'app.conf.j2', dest: s.path('crlf'), newline_sequence: '\r\n' },
        { files, render },
      );
      expect(crlf.result.changed).toBe(true);
      expect(readFileSync(s.path('crlf'), 'utf8')).toBe('port=8080\r\nname=x\r\n');
    } finally {
      ctl.cleanup();
    }
  });
});
