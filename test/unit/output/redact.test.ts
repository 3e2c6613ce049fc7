import { describe, expect, it } from 'vitest';
import { MASK, Redactor } from '../../../src/output/redact.js';
import { Keyring } from '../../../src/vault/index.js';
import { loadYaml } from '../../../src/yaml/load.js';

describe('Redactor', () => {
  it('masks every occurrence, longest secret first', () => {
    const r = new Redactor();
    r.add('hunter2');
    r.add('hunter2-extended');
    expect(r.redact('pw=hunter2-extended, old=hunter2, again hunter2')).toBe(
      `pw=${MASK}, old=${MASK}, again ${MASK}`,
    );
    expect(r.redact('nothing here')).toBe('nothing here');
  });

  it('treats regex metacharacters literally', () => {
    const r = new Redactor();
    r.add('a.b*c(d)[e]$^|\\/-+?{1}');
    expect(r.redact('x a.b*c(d)[e]$^|\\/-+?{1} y aXbbc')).toBe(`x ${MASK} y aXbbc`);
  });

  it('masks short secrets only as whole values', () => {
    const r = new Redactor();
    r.add('ab');
    expect(r.redact('about a cab')).toBe('about a cab');
    expect(r.redactValue({ password: 'ab', other: 'abc' })).toEqual({ password: MASK, other: 'abc' });
    r.add('   ');
    r.add(' x ');
    expect(r.redact('this is a test  x  of   spaces')).toBe('this is a test  x  of   spaces');
    expect(r.size).toBe(0);
  });

  it('registers each line of a multi-line secret and its JSON-escaped form', () => {
    const r = new Redactor();
    const key = '-----BEGIN KEY-----\r\nMIIBOgIBAAJBAKj34GkxFhD9\nfoo"bar\n-----END KEY-----';
    r.add(key);
    expect(r.redact('line: MIIBOgIBAAJBAKj34GkxFhD9 and foo"bar')).toBe(`line: ${MASK} and ${MASK}`);
    expect(r.redact(JSON.stringify({ k: key }))).toBe(`{"k":"${MASK}"}`);
    expect(r.redact(`    ${key.replace(/\r?\n/g, '\n    ')}`)).not.toMatch(/MIIB|foo"bar|BEGIN KEY/);
  });

  it('redactValue walks objects, arrays, keys, numbers, maps and errors without touching the input', () => {
    const r = new Redactor();
    r.add('s3cr3t');
    r.add(424242);
    const input = {
      msg: 'login with s3cr3t failed',
      nested: [{ deep: ['s3cr3t'] }, 424242, 7, true, null],
      s3cr3t: 'key is secret',
      m: new Map([['k', 'x s3cr3t']]),
      err: new Error('bad s3cr3t'),
    };
    const out = r.redactValue(input) as Record<string, unknown>;
    expect(out.msg).toBe(`login with ${MASK} failed`);
    expect(out.nested).toEqual([{ deep: [MASK] }, MASK, 7, true, null]);
    expect(out[MASK]).toBe('key is secret');
    expect((out.m as Map<string, string>).get('k')).toBe(`x ${MASK}`);
    expect((out.err as Error).message).toBe(`bad ${MASK}`);
    expect(JSON.stringify(out)).not.toContain('s3cr3t');
    expect(input.msg).toBe('login with s3cr3t failed');
  });

  it('handles cycles and shared references', () => {
    const r = new Redactor();
    r.add('topsecret');
    const shared = { v: 'topsecret' };
    const a: Record<string, unknown> = { one: shared, two: shared };
    a.self = a;
    const out = r.redactValue(a) as Record<string, unknown>;
    expect(out.self).toBe('[Circular]');
    expect(out.one).toEqual({ v: MASK });
    expect(out.two).toEqual({ v: MASK });
  });

  it('masks vault values from YAML (through toJSON) once the keyring reports them', () => {
    const kr = new Keyring([{ id: 'default', password: Buffer.from('pw') }]);
    const r = new Redactor();
    kr.onSecret((s) => r.add(s));
    const block = kr
      .encrypt('vaulted-value')
      .split('\n')
      .filter(Boolean)
      .map((l) => `  ${l}`)
      .join('\n');
    const y = loadYaml(`token: !vault |\n${block}\n`, 'vars.yml', { decryptVault: kr.yamlDecryptor() });
    const doc = y.docs[0] as Record<string, unknown>;
    expect(String(doc.token)).toBe('vaulted-value');
    expect(r.redactValue(doc)).toEqual({ token: MASK });
    expect(r.redact(`debug: ${String(doc.token)}`)).toBe(`debug: ${MASK}`);
  });

  it('picks up secrets added after the first use (lazy rebuild)', () => {
    const r = new Redactor();
    r.add('first-secret');
    expect(r.redact('first-secret second-secret')).toBe(`${MASK} second-secret`);
    r.add('second-secret');
    expect(r.redact('first-secret second-secret')).toBe(`${MASK} ${MASK}`);
  });

  it('stays fast with thousands of secrets', () => {
    const r = new Redactor();
    for (let i = 0; i < 5000; i++) r.add(`secret-value-${i}-${(i * 7919).toString(36)}`);
    const line = `ok: [web${'x'.repeat(50)}] => changed=false msg=${'lorem ipsum '.repeat(20)}`;
    const target = `secret-value-4321-${(4321 * 7919).toString(36)}`;
    r.redact('warm up');
    const t0 = performance.now();
    let out = '';
    for (let i = 0; i < 2000; i++) out = r.redact(`${line} ${target}`);
    const ms = performance.now() - t0;
    expect(out.endsWith(MASK)).toBe(true);
    expect(out).not.toContain(target);
    // 2000 event lines against 5000 secrets; generous bound for a loaded 2-core machine.
    expect(ms).toBeLessThan(2000);
  });

  it('past 400 secrets (trie scanner) masks exactly what one longest-first regex masks', () => {
    // Deterministic pseudo-random secrets over a small alphabet, so they overlap, nest and
    // share prefixes with each other and with the text.
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const word = (len: number): string => Array.from({ length: len }, () => 'abcde'[rnd(5)]).join('');
    const secrets = new Set<string>();
    while (secrets.size < 900) secrets.add(word(3 + rnd(6)));
    const r = new Redactor();
    r.addAll(secrets);
    expect(r.size).toBeGreaterThan(400);
    const sorted = [...secrets].sort((a, b) => b.length - a.length);
    const reference = new RegExp(sorted.join('|'), 'g');
    for (let k = 0; k < 50; k++) {
      const text = `${word(5 + rnd(200))} x ${word(rnd(50))}\n${word(3)}`;
      expect(r.redact(text)).toBe(text.replace(reference, MASK));
    }
    const r2 = new Redactor();
    for (let i = 0; i < 500; i++) r2.add(`filler-${i}-xyz`);
    r2.add('hunter2');
    r2.add('hunter2-extended');
    expect(r2.redact('pw=hunter2-extended, old=hunter2, filler-7-xyz, filler-7-xy')).toBe(
      `pw=${MASK}, old=${MASK}, ${MASK}, filler-7-xy`,
    );
  });

  it('adding secrets one at a time between redactions stays cheap', () => {
    const r = new Redactor();
    for (let i = 0; i < 2000; i++) r.add(`base-secret-${i}-${i * 31}`);
    const t0 = performance.now();
    for (let i = 0; i < 300; i++) {
      r.add(`late-secret-${i}`);
      expect(r.redact(`event with late-secret-${i} inside`)).toBe(`event with ${MASK} inside`);
    }
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('can use Ansible’s placeholder for whole values', () => {
    const r = new Redactor({ wholeValueMask: 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' });
    r.add('p4ssw0rd');
    expect(r.redactValue({ a: 'p4ssw0rd', b: 'x p4ssw0rd' })).toEqual({
      a: 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER',
      b: `x ${MASK}`,
    });
  });
});
