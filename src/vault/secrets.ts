/**
 * Turning `--vault-password-file`, `--vault-id`, `--ask-vault-pass` and the environment into
 * secrets, in ansible-core's order (cli/__init__.py `setup_vault_secrets`):
 * ANSIBLE_VAULT_IDENTITY_LIST, then --vault-id, then --vault-password-file, then the
 * password file from the environment, then the prompt.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, extname, resolve } from 'node:path';
import { VaultError } from './error.js';
import { DEFAULT_VAULT_ID, isVaultText } from './format.js';
import { Keyring, type VaultSecret } from './keyring.js';
import { type PromptFn, promptHidden } from './prompt.js';

export interface VaultCliOptions {
  vaultPasswordFile?: string[];
  vaultId?: string[];
  askVaultPass?: boolean;
  /** Prompt when nothing else gives a secret (ansible-vault does; ansible-playbook does not). */
  autoPrompt?: boolean;
  /** The secrets are for encrypting: prompts ask twice ("New vault password") and compare. */
  newPassword?: boolean;
  /** Where warnings go (a password file that could not be read while another one could). */
  warn?: (message: string) => void;
  /** Environment to read ANSIBLE_VAULT_* from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** `label@source` → [label, source]; no `@` means no label. */
export function splitVaultId(slug: string): [string | undefined, string] {
  const at = slug.indexOf('@');
  return at < 0 ? [undefined, slug] : [slug.slice(0, at), slug.slice(at + 1)];
}

/** The vault-id slugs to load, in order (exported for tests and `--help` texts). */
export function vaultIdSlugs(opts: VaultCliOptions): string[] {
  const env = opts.env ?? process.env;
  const defaultId = env.ANSIBLE_VAULT_IDENTITY || DEFAULT_VAULT_ID;
  const identityList = (env.ANSIBLE_VAULT_IDENTITY_LIST ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const slugs = [...identityList, ...(opts.vaultId ?? [])];
  const files = [...(opts.vaultPasswordFile ?? [])];
  const envFile = env.DROVER_VAULT_PASSWORD_FILE || env.ANSIBLE_VAULT_PASSWORD_FILE;
  if (envFile) files.push(envFile);
  for (const f of files) slugs.push(`${defaultId}@${f}`);
  if (opts.askVaultPass || (slugs.length === 0 && opts.autoPrompt))
    slugs.push(`${defaultId}@prompt_ask_vault_pass`);
  return slugs;
}

export async function loadVaultSecrets(opts: VaultCliOptions, prompt?: PromptFn): Promise<VaultSecret[]> {
  const env = opts.env ?? process.env;
  const defaultId = env.ANSIBLE_VAULT_IDENTITY || DEFAULT_VAULT_ID;
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`[WARNING]: ${m}\n`));
  const ask = prompt ?? promptHidden;
  const secrets: VaultSecret[] = [];
  let lastError: VaultError | undefined;
  // The same file named twice (flag and ansible.cfg, or flag and environment) is read once.
  const seen = new Set<string>();
  for (const slug of vaultIdSlugs(opts)) {
    const [label, source] = splitVaultId(slug);
    if (source !== 'prompt' && source !== 'prompt_ask_vault_pass') {
      const key = `${label ?? ''}@${resolve(expandHome(source))}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    if (label?.includes(';')) {
      throw new VaultError(
        `'${slug}' is not a valid vault id. The character ';' is not allowed in vault ids`,
      );
    }
    if (source === 'prompt' || source === 'prompt_ask_vault_pass') {
      const id = label || defaultId;
      secrets.push({
        id,
        password: await askPassword(ask, id, source === 'prompt', opts.newPassword ?? false),
      });
      continue;
    }
    const id = label || defaultId;
    try {
      secrets.push({ id, password: await readPasswordSource(source, id, secrets) });
    } catch (e) {
      if (!(e instanceof VaultError)) throw e;
      warn(`Error getting vault password file (${id}): ${e.message}`);
      lastError = e;
    }
  }
  // Like Ansible: an unreadable password file is fatal only if no other secret was found.
  if (lastError && secrets.length === 0) throw lastError;
  return secrets;
}

async function askPassword(ask: PromptFn, id: string, withId: boolean, confirm: boolean): Promise<Buffer> {
  const questions = confirm
    ? withId
      ? [`New vault password (${id}): `, `Confirm new vault password (${id}): `]
      : ['New Vault password: ', 'Confirm New Vault password: ']
    : [withId ? `Vault password (${id}): ` : 'Vault password: '];
  const answers: Buffer[] = [];
  for (const q of questions) {
    const a = await ask(q);
    if (a === '')
      throw new VaultError('Invalid vault password was provided', 'The password may not be empty.');
    answers.push(Buffer.from(stripWhitespace(a), 'utf8'));
  }
  if (answers.some((a) => !a.equals(answers[0]!))) throw new VaultError('Passwords do not match');
  return answers[0]!;
}

/** Python's str.strip(): ASCII whitespace at both ends. */
function stripWhitespace(s: string): string {
  return s.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
}

function stripNewlines(b: Buffer): Buffer {
  let start = 0;
  let end = b.length;
  while (start < end && (b[start] === 0x0a || b[start] === 0x0d)) start++;
  while (end > start && (b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--;
  return b.subarray(start, end);
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

/**
 * A password file: plain (its content, whitespace-stripped; it may itself be vault-encrypted
 * with a secret loaded before it) or executable (its stdout; a `*-client` script is given
 * `--vault-id LABEL` and exit code 2 means "no secret for that label").
 */
export async function readPasswordSource(
  file: string,
  id: string,
  earlier: VaultSecret[] = [],
): Promise<Buffer> {
  const path = resolve(expandHome(file));
  let mode: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new VaultError(`The vault password file ${path} is not a regular file`);
    mode = st.mode;
  } catch (e) {
    if (e instanceof VaultError) throw e;
    throw new VaultError(`The vault password file ${path} was not found`);
  }
  if ((mode & 0o111) !== 0) return runPasswordScript(path, id);
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    throw new VaultError(`Could not read vault password file ${path}: ${(e as Error).message}`);
  }
  let pass: Buffer = Buffer.from(stripWhitespace(raw.toString('latin1')), 'latin1');
  if (isVaultText(pass)) pass = new Keyring(earlier).decrypt(pass, path);
  pass = stripNewlines(pass);
  if (pass.length === 0) throw new VaultError(`Invalid vault password was provided from file (${path})`);
  return pass;
}

function runPasswordScript(path: string, id: string): Promise<Buffer> {
  const client = basename(path, extname(path)).endsWith('-client');
  const args = client && id ? ['--vault-id', id] : [];
  return new Promise((resolvePass, reject) => {
    const child = spawn(path, args, { stdio: ['inherit', 'pipe', client ? 'pipe' : 'inherit'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) =>
      reject(
        new VaultError(
          `Problem running vault password script ${path} (${e.message}). If this is not a script, remove the executable bit from the file.`,
        ),
      ),
    );
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (client && code === 2) {
        return reject(
          new VaultError(
            `Vault password client script ${path} did not find a secret for vault-id=${id}: ${stderr}`,
          ),
        );
      }
      if (code !== 0) {
        const what = client ? `client script ${path}` : `script ${path}`;
        return reject(
          new VaultError(`Vault password ${what} returned non-zero (${code})${stderr ? `: ${stderr}` : ''}`),
        );
      }
      const pass = stripNewlines(Buffer.concat(out));
      if (pass.length === 0)
        return reject(new VaultError(`Invalid vault password was provided from script (${path})`));
      resolvePass(pass);
    });
  });
}
