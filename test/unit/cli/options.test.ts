import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addCommonOptions } from '../../../cli/common.js';

// Commander names an option after its last long flag; these are the names the code reads.
describe('common options', () => {
  it('maps Ansible flag spellings to the attributes the CLI reads', () => {
    const cmd = addCommonOptions(new Command('x').exitOverride());
    cmd.parse(
      [
        '--output',
        'json',
        '--vault-pass-file',
        'a',
        '--vault-password-file',
        'b',
        '--key-file',
        'k',
        '-vvv',
        '-e',
        'x=1',
        '-e',
        'y=2',
      ],
      { from: 'user' },
    );
    expect(cmd.opts()).toMatchObject({
      output: ['json'],
      vaultPasswordFile: ['a', 'b'],
      privateKey: 'k',
      verbose: 3,
      extraVars: ['x=1', 'y=2'],
    });
    const again = addCommonOptions(new Command('y').exitOverride());
    again.parse(['--report', 'junit:out.xml', '--private-key', 'p'], { from: 'user' });
    expect(again.opts()).toMatchObject({ output: ['junit:out.xml'], privateKey: 'p' });
  });
});
