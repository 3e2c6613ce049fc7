import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quote } from '../../../src/shell/quote.js';
import { shlexSplit } from '../../../src/shell/shlex.js';

function echoBack(word: string): string {
  const r = spawnSync('sh', ['-c', `printf %s ${quote(word)}`], { encoding: 'utf8' });
  return r.stdout;
}

describe('quote', () => {
  it('round-trips arbitrary strings through sh byte-exact', () => {
    const alphabet = [
      'a',
      ' ',
      "'",
      '"',
      '$',
      '`',
      '\\',
      '\n',
      '\t',
      '*',
      '?',
      '[',
      '~',
      '-',
      '!',
      '#',
      ';',
      '&',
      '|',
      'é',
      '日',
      '{',
      '}',
      '(',
      '%',
    ];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let n = 0; n < 200; n++) {
      let s = '';
      const len = rand() % 12;
      for (let i = 0; i < len; i++) s += alphabet[rand() % alphabet.length];
      expect(echoBack(s)).toBe(s);
    }
  });

  it('leaves safe words bare and quotes the empty string', () => {
    expect(quote('abc/def-1.2')).toBe('abc/def-1.2');
    expect(quote('')).toBe("''");
    expect(quote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe('shlexSplit (Python shlex.split, posix)', () => {
  it.each([
    ['a b  c', ['a', 'b', 'c']],
    [`echo "a b" 'c d'`, ['echo', 'a b', 'c d']],
    [`a\\ b`, ['a b']],
    [`"a\\"b"`, ['a"b']],
    [`'a\\b'`, ['a\\b']],
    [`x""y`, ['xy']],
    [`""`, ['']],
  ])('%s', (input, expected) => {
    expect(shlexSplit(input)).toEqual(expected);
  });

  it('rejects an unclosed quote', () => {
    expect(() => shlexSplit(`echo "abc`)).toThrow('No closing quotation');
  });
});
