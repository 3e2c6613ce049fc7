/**
 * Quoting fuzz: generated names and contents full of shell metacharacters must reach the
 * target byte-exact through every path that interpolates them (vars, stdin, base64 answers).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { copyModule } from '../../../../modules/files/copy.js';
import { fileModule } from '../../../../modules/files/file.js';
import { lineinfileModule } from '../../../../modules/files/lineinfile.js';
import { slurpModule } from '../../../../modules/files/slurp.js';
import { statModule } from '../../../../modules/files/stat.js';
import { runModule, scratch } from '../harness.js';

const ALPHABET = [
  ' ',
  "'",
  '"',
  '$',
  '`',
  '\\',
  '\n',
  '\t',
  '%',
  '-',
  '*',
  '?',
  '[',
  ']',
  '{',
  '}',
  ';',
  '&',
  '|',
  '<',
  '>',
  '(',
  ')',
  '#',
  '~',
  '!',
  '=',
  'é',
  '€',
  '日',
  '🙂',
  'a',
  'Z',
  '0',
  '$(id)',
  '$'.concat('{HOME}'),
  '\r',
];

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function gen(r: () => number, len: number, forName: boolean): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    const c = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
    if (forName && (c === '\n' || c === '\r')) continue;
    s += c;
  }
  if (forName) {
    if (s === '' || s === '.' || s === '..') s = `x${s}`;
    if (r() < 0.3) s = `-${s}`;
  }
  return s;
}

const s = scratch();
afterAll(() => s.cleanup());

describe('quoting fuzz', () => {
  const r = rng(20261125);
  const cases = Array.from({ length: 25 }, (_, i) => ({
    i,
    name: gen(r, 1 + Math.floor(r() * 12), true),
    content: gen(r, Math.floor(r() * 40), false),
  }));

  for (const c of cases) {
    it(`case ${c.i}: ${JSON.stringify(c.name)}`, async () => {
      const dir = s.path(`c${c.i}`);
      const mk = await runModule(fileModule, { path: dir, state: 'directory' });
      expect(mk.result.failed).toBeUndefined();
      const path = `${dir}/${c.name}`;
      const w = await runModule(copyModule, { content: c.content, dest: path });
      expect(w.result).toMatchObject({ changed: true, dest: path });
      expect(readdirSync(dir)).toEqual([c.name]);
      expect(readFileSync(path, 'utf8')).toBe(c.content);
      expect((await runModule(copyModule, { content: c.content, dest: path })).result.changed).toBe(false);

      const sl = await runModule(slurpModule, { src: path });
      expect(Buffer.from(String(sl.result.content), 'base64').toString('utf8')).toBe(c.content);

      const st = await runModule(statModule, { path });
      expect(st.result.stat).toMatchObject({ exists: true, isreg: true, path });

      const line = c.content.replace(/[\r\n]/g, '');
      writeFileSync(path, 'first\n');
      const li = await runModule(lineinfileModule, { path, line });
      expect(li.result.changed).toBe(line !== 'first');
      const text = readFileSync(path, 'utf8');
      expect(text).toBe(line === 'first' ? 'first\n' : `first\n${line}\n`);

      const link = `${dir}/${c.name}.lnk`;
      const ln = await runModule(fileModule, { path: link, src: path, state: 'link' });
      expect(ln.result).toMatchObject({ changed: true, src: path });
      const rm = await runModule(fileModule, { path, state: 'absent' });
      expect(rm.result.changed).toBe(true);
      expect(existsSync(path)).toBe(false);
    });
  }
});
