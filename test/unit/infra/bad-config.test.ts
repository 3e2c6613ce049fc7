/**
 * Every fixture under test/fixtures/infra/bad/ is a broken configuration: `drover infra`
 * must exit 1 with a clear message naming file:line:col, and change nothing (no state,
 * no file written).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runInfra } from '../../../cli/infra.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/infra/bad');
const tmp = mkdtempSync(join(tmpdir(), 'drover-infra-bad-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

async function infra(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runInfra(args, {
    write: (t) => (out += t),
    writeErr: (t) => (err += t),
    ask: async () => undefined,
  });
  return { code, out, err };
}

const cases = readdirSync(FIXTURES).sort();

describe('bad infra configurations', () => {
  it('has at least 15 fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });
  for (const name of cases) {
    it(name, async () => {
      const spec = YAML.parse(readFileSync(join(FIXTURES, name, 'expect.yml'), 'utf8')) as {
        args?: string[];
        setup?: string[];
        errors: string[];
      };
      const dir = join(tmp, name);
      cpSync(join(FIXTURES, name), dir, { recursive: true });
      let stateBefore: string | undefined;
      if (spec.setup) {
        const s = await infra(['-chdir', dir, ...spec.setup]);
        expect(s.code, s.err).toBe(0);
        stateBefore = readFileSync(join(dir, 'drover.tfstate.json'), 'utf8');
      }
      const before = listFiles(dir);
      const r = await infra(['-chdir', dir, ...(spec.args ?? ['plan'])]);
      expect(r.code).toBe(1);
      for (const e of spec.errors) expect(r.err).toContain(e);
      expect(r.err).toMatch(/\S+:\d+:\d+: /);
      // Nothing applied: the same files, and the state (if any) untouched.
      expect(listFiles(dir)).toEqual(before);
      if (stateBefore !== undefined)
        expect(readFileSync(join(dir, 'drover.tfstate.json'), 'utf8')).toBe(stateBefore);
      else expect(before).not.toContain('drover.tfstate.json');
    });
  }
});
