/** Loads vars files (YAML/JSON, whole-file vault or inline !vault) for include_vars and vars_files. */
import { readFile } from 'node:fs/promises';
import { ValidationError } from '../src/errors.js';
import type { TaskLoader } from '../src/runner/ports.js';
import { isVaultText, type Keyring } from '../src/vault/index.js';
import { loadYaml } from '../src/yaml/load.js';

export async function loadVarsFile(file: string, keyring: Keyring): Promise<Record<string, unknown>> {
  let text = await readFile(file, 'utf8');
  let encrypted = false;
  if (isVaultText(text)) {
    text = keyring.decrypt(text, file).toString('utf8');
    encrypted = true;
  }
  const y = loadYaml(text, file, { decryptVault: (c, w) => keyring.decryptText(c, w) });
  if (y.problems.length > 0) throw new ValidationError(y.problems);
  const doc = y.docs[0] ?? {};
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError([
      {
        message: 'a vars file must hold a mapping of variable names to values',
        pos: { file, line: 1, col: 1 },
      },
    ]);
  }
  if (encrypted) keyring.noteSecretsIn(doc);
  return doc as Record<string, unknown>;
}

export function varsFileLoader(keyring: Keyring): TaskLoader {
  return {
    loadVarsFile: (f) => loadVarsFile(f, keyring),
    loadTasksFile: async (f) => {
      throw new Error(`include_tasks is not available here (${f})`);
    },
    loadRole: async (name) => {
      throw new Error(`include_role is not available here (${name})`);
    },
  };
}
