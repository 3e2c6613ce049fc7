import { describe, expect, it } from 'vitest';
import { isTemplate, OMIT, Templar, TemplateError } from '../../../src/template/index.js';

const t = new Templar();

describe('Templar semantics', () => {
  it('keeps plain strings without touching the engine', () => {
    expect(isTemplate('plain')).toBe(false);
    expect(t.template('plain {', {})).toBe('plain {');
  });
  it('resolves variables lazily and recursively', () => {
    const vars = { a: 1, b: '{{ a + 1 }}', c: '{{ b }}-{{ a }}', l: '{{ [a, b] }}' };
    expect(t.template('{{ c }}', vars)).toBe('2-1');
    expect(t.template('{{ l }}', vars)).toEqual([1, '2']);
    expect(t.template({ k: ['{{ a }}', 'x{{ a }}'] }, vars)).toEqual({ k: [1, 'x1'] });
  });
  it('detects cycles', () => {
    expect(() => t.template('{{ x }}', { x: '{{ y }}', y: '{{ x }}' })).toThrow(/recursive loop detected/);
  });
  it('names the undefined variable', () => {
    try {
      t.template('line1\n{{ nope }}', {});
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TemplateError);
      expect((e as TemplateError).undefinedName).toBe('nope');
      expect((e as Error).message).toBe("'nope' is undefined");
    }
    expect(() => t.template('{{ d.bar }}', { d: {} })).toThrow("'dict object' has no attribute 'bar'");
    expect(t.template('{{ nope }}', {}, { failOnUndefined: false })).toBe('{{ nope }}');
  });
  it('handles undefined chains with default and defined', () => {
    expect(t.template('{{ foo.bar | default(1) }}', {})).toBe('1');
    expect(t.template('{{ foo.bar is defined }}', {})).toBe(false);
  });
  it('exposes omit', () => {
    expect(t.template('{{ omit }}', {})).toBe(OMIT);
    expect(OMIT.startsWith('__omit_place_holder__')).toBe(true);
  });
  it('evaluates conditions with Python truthiness', () => {
    expect(t.condition('lst', { lst: [] })).toBe(false);
    expect(t.condition('d', { d: { a: 1 } })).toBe(true);
    expect(t.condition('x is defined and x > 1', { x: 2 })).toBe(true);
    expect(t.condition(true, {})).toBe(true);
    expect(() => t.condition('y > 1', {})).toThrow(/The conditional check 'y > 1' failed.*'y' is undefined/);
  });
  it('evaluates bare expressions to native values', () => {
    expect(t.evaluate('a + 1', { a: 1 })).toBe(2);
    expect(t.evaluate("{'k': [1, none]}", {})).toEqual({ k: [1, null] });
  });
  it('prints Python reprs', () => {
    expect(t.template("{{ ['a', True, None] }}x", {})).toBe("['a', True, None]x");
    expect(t.template(" {{ {'a': 1} }}", {})).toBe(" {'a': 1}");
  });
  it('balances braces inside expressions', () => {
    expect(t.template("{{ {'a': {'b': 1}} }}", {})).toEqual({ a: { b: 1 } });
  });
  it('renders template files with trim_blocks and ansible_managed', () => {
    const out = t.renderTemplateFile(
      '# {{ ansible_managed }}\n{% for i in l %}\n{{ i }}\n{% endfor %}\n',
      { l: [1, 2] },
      { path: '/x.j2' },
    );
    expect(out).toBe('# Ansible managed\n1\n2\n');
  });
  it('caches compiled templates (second render is fast)', () => {
    const vars = { a: 1 };
    t.template('{{ a + 100 }}', vars);
    const start = performance.now();
    for (let i = 0; i < 10_000; i++) t.template('{{ a + 100 }}', vars);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
