import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyModule } from '../../../../modules/files/copy.js';
import { fileModule } from '../../../../modules/files/file.js';
import { lineinfileModule } from '../../../../modules/files/lineinfile.js';
import { statModule } from '../../../../modules/files/stat.js';
import { runModule, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
let home: string | undefined;
beforeEach(() => {
  s = scratch();
  home = process.env.HOME;
  process.env.HOME = s.dir;
});
afterEach(() => {
  process.env.HOME = home;
  s.cleanup();
});

describe('~ in path arguments means the remote $HOME (type: path)', () => {
  it('copy, lineinfile, stat, file expand a leading ~ and ~/ only', async () => {
    const r = await runModule(copyModule, { content: 'x\n', dest: '~/.bashrc' });
    expect(r.result).toMatchObject({ changed: true, dest: `${s.dir}/.bashrc` });
    expect(readFileSync(s.path('.bashrc'), 'utf8')).toBe('x\n');
    const li = await runModule(lineinfileModule, { path: '~/.bashrc', line: 'export A=1' });
    expect(li.result.changed).toBe(true);
    const st = await runModule(statModule, { path: '~' });
    expect(st.result.stat).toMatchObject({ isdir: true });
    const d = await runModule(fileModule, { path: '~/a~b', state: 'directory' });
    expect(d.result.path).toBe(`${s.dir}/a~b`);
    writeFileSync(s.path('plain'), '');
    const lit = await runModule(fileModule, { path: `${s.dir}/~not-home`, state: 'touch' });
    expect(lit.result.path).toBe(`${s.dir}/~not-home`);
  });
});
