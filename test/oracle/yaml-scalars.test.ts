import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadYaml } from '../../src/yaml/load.js';

// Plain scalars whose type PyYAML (what Ansible parses YAML with) decides differently from
// a generic YAML 1.1 or 1.2 parser: booleans, floats, ints in other bases, sexagesimal.
const SCALARS = [
  'y',
  'Y',
  'n',
  'N',
  'yes',
  'Yes',
  'YES',
  'no',
  'No',
  'NO',
  'on',
  'On',
  'ON',
  'off',
  'Off',
  'OFF',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  'yEs',
  'tRUE',
  '1e3',
  '1.0e3',
  '1.0e+3',
  '1.0e-3',
  '1.5',
  '-1.5',
  '.5',
  '-.5',
  '+.5',
  '._5',
  '1.',
  '1_000.5',
  '-.5e-3',
  '1E+2',
  '.inf',
  '-.inf',
  '.nan',
  '.NaN',
  '0',
  '-0',
  '+1',
  '017',
  '0o17',
  '0x1F',
  '0b101',
  '1_000',
  '1:30',
  '-1:30:05',
  '1:30.5',
  '08',
  '0.1.2',
  '~',
  'null',
  'Null',
  'NULL',
  '',
  'None',
  'none',
];

function pyyaml(doc: string): unknown {
  const out = execFileSync(
    'python3',
    [
      '-c',
      // numbers as text so inf/nan survive JSON; every value tagged with its Python type
      'import sys, json, yaml\n' +
        'd = yaml.safe_load(sys.stdin.read())\n' +
        'print(json.dumps({k: [type(v).__name__, repr(v) if isinstance(v, float) else v] for k, v in d.items()}, default=str))',
    ],
    { input: doc, encoding: 'utf8' },
  );
  return JSON.parse(out);
}

describe('YAML scalars resolve as PyYAML resolves them', () => {
  it('every scalar in a block mapping has the same value and type', () => {
    const doc = SCALARS.map((s, i) => `k${i}: ${s}`).join('\n');
    const expected = pyyaml(doc) as Record<string, unknown>;
    const got = loadYaml(doc, 'scalars.yml').docs[0] as Record<string, unknown>;
    const pyType: Record<string, string> = {
      bool: 'boolean',
      int: 'number',
      float: 'number',
      str: 'string',
      NoneType: 'null',
    };
    for (const [i, s] of SCALARS.entries()) {
      const [type, raw] = expected[`k${i}`] as [string, unknown];
      const want = type === 'float' ? Number.parseFloat(String(raw).replace('inf', 'Infinity')) : raw;
      const g = got[`k${i}`];
      const v = g === 0 ? 0 : g; // -0 prints as 0 in Jinja, as Python's int -0 does
      expect({ scalar: s, type: v === null ? 'null' : typeof v, value: v }).toEqual({
        scalar: s,
        type: pyType[type] ?? type,
        value: want,
      });
    }
  });
});
