/**
 * `drover vault create|encrypt|decrypt|view|edit|rekey|encrypt_string`: ansible-vault's
 * sub-commands, flags, messages and exit codes (1 for vault errors, 5 for option errors).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { DroverError } from '../src/errors.js';
import {
  createFile,
  decryptFile,
  editFile,
  encryptFile,
  Keyring,
  loadVaultSecrets,
  type PromptFn,
  promptHidden,
  promptVisible,
  readSource,
  rekeyFile,
  type StreamOptions,
  type VaultCliOptions,
  VaultError,
  VaultOptionsError,
  type VaultSecret,
  writeTarget,
} from '../src/vault/index.js';
import { parseIni, readAnsibleConfig } from './ansible-config.js';

interface VaultFlags {
  vaultId?: string[];
  vaultPasswordFile?: string[];
  vaultPassFile?: string[];
  askVaultPass?: boolean;
  askVaultPassword?: boolean;
  verbose: number;
  output?: string;
  encryptVaultId?: string;
  newVaultId?: string;
  newVaultPasswordFile?: string;
  name?: string[];
  stdinName?: string;
  prompt?: boolean;
  showInput?: boolean;
}

/** What the command talks to; tests replace the prompts. */
export interface VaultCommandDeps {
  prompt?: PromptFn;
  promptVisible?: PromptFn;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream;
}

type Action = 'create' | 'decrypt' | 'edit' | 'view' | 'encrypt' | 'encrypt_string' | 'rekey';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function vaultCommand(deps: VaultCommandDeps = {}): Command {
  const cmd = new Command('vault')
    .description('encryption/decryption utility for Ansible data files (compatible with ansible-vault)')
    .addHelpText(
      'after',
      "\nSee 'drover vault <command> --help' for more information on a specific command.\n" +
        'Exit codes (as ansible-vault): 0 ok, 1 vault error (wrong password, damaged file, unreadable\n' +
        'password file), 5 contradictory or missing options, 2 unknown flags, 250 unexpected error.',
    );

  const sub = (
    name: Action,
    description: string,
    opts: { output?: boolean; encryptId?: boolean },
  ): Command => {
    const c = cmd
      .command(name)
      .description(description)
      .option(
        '--vault-id <id>',
        'the vault identity to use: LABEL@SOURCE, SOURCE a password file, script or "prompt" (repeatable)',
        collect,
      )
      .option(
        '--vault-password-file <file>',
        'vault password file: plain, or executable to print it (repeatable)',
        collect,
      )
      .addOption(new Option('--vault-pass-file <file>').hideHelp().argParser(collect))
      .option('-J, --ask-vault-pass', 'ask for vault password')
      .addOption(new Option('--ask-vault-password').hideHelp())
      .option('-v, --verbose', 'more output (repeatable)', (_v: string, n: number) => n + 1, 0);
    if (opts.output) c.option('--output <file>', 'output file name for encrypt or decrypt; use - for stdout');
    if (opts.encryptId) {
      c.option(
        '--encrypt-vault-id <id>',
        'the vault id used to encrypt (required if more than one vault-id is provided)',
      );
    }
    return c;
  };

  const run =
    (action: Action) =>
    async (args: string[] | string | undefined, flags: VaultFlags): Promise<void> => {
      const files = args === undefined ? [] : Array.isArray(args) ? args : [args];
      // `drover vault view f | head` closes the pipe early: that is the reader's choice, not an error.
      const stdout = deps.stdout ?? process.stdout;
      if (!stdout.listeners('error').includes(ignoreEpipe)) stdout.on('error', ignoreEpipe);
      try {
        await runVault(action, files, flags, deps);
      } catch (e) {
        reportError(e, deps.stderr ?? process.stderr);
      }
    };

  sub('create', 'Create new vault encrypted file', { encryptId: true })
    .argument('[file_name...]', 'Filename')
    .action(run('create'));
  sub('decrypt', 'Decrypt vault encrypted file', { output: true })
    .argument('[file_name...]', 'Filename (stdin when none or -)')
    .action(run('decrypt'));
  sub('edit', 'Edit vault encrypted file', { encryptId: true })
    .argument('[file_name...]', 'Filename')
    .action(run('edit'));
  sub('view', 'View vault encrypted file', {}).argument('[file_name...]', 'Filename').action(run('view'));
  sub('encrypt', 'Encrypt YAML file', { output: true, encryptId: true })
    .argument('[file_name...]', 'Filename (stdin when none or -)')
    .action(run('encrypt'));
  sub('encrypt_string', 'Encrypt a string', { output: true, encryptId: true })
    .argument('[string_to_encrypt...]', 'String to encrypt (stdin when none or -)')
    .option('-p, --prompt', 'Prompt for the string to encrypt')
    .option('--show-input', 'Do not hide input when prompted for the string to encrypt')
    .option('-n, --name <name>', 'Specify the variable name (repeatable)', collect)
    .option('--stdin-name <name>', 'Specify the variable name for stdin')
    .action(run('encrypt_string'));
  sub('rekey', 'Re-key a vault encrypted file', { encryptId: true })
    .argument('[file_name...]', 'Filename')
    .addOption(
      new Option('--new-vault-password-file <file>', 'new vault password file for rekey').conflicts(
        'newVaultId',
      ),
    )
    .option('--new-vault-id <id>', 'the new vault identity to use for rekey')
    .action(run('rekey'));
  // Usage errors surface as CommanderError (exit 2, as argparse in ansible-vault) to whoever
  // parses: the main program maps them, and so does the direct entry below.
  for (const c of cmd.commands) c.exitOverride();
  return cmd;
}

/**
 * Shows text through $PAGER (else `less` with LESS=FRSX), as ansible-vault view does on a
 * terminal. False when no pager could run, so the caller prints it instead.
 */
function page(text: string): boolean {
  const pager = process.env.PAGER || 'less';
  const env = { ...process.env, LESS: process.env.LESS ?? 'FRSX' };
  const r = spawnSync('/bin/sh', ['-c', pager], { input: text, stdio: ['pipe', 'inherit', 'inherit'], env });
  return !r.error && r.status !== 127;
}

function ignoreEpipe(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE') throw e;
}

function reportError(e: unknown, stderr: NodeJS.WritableStream): void {
  if (e instanceof DroverError) {
    stderr.write(`ERROR! ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
    process.exitCode = e.exitCode;
    return;
  }
  const err = e as NodeJS.ErrnoException;
  // A closed stdout pipe (`drover vault view f | head`) is not an error worth a message.
  if (err?.code === 'EPIPE') return;
  stderr.write(`ERROR! Unexpected error in drover vault: ${err?.message ?? String(e)}\n`);
  if (process.env.DROVER_DEBUG) stderr.write(`${err?.stack ?? ''}\n`);
  process.exitCode = 250;
}

async function runVault(
  action: Action,
  files: string[],
  f: VaultFlags,
  deps: VaultCommandDeps,
): Promise<void> {
  const stderr = deps.stderr ?? process.stderr;
  const stdout = deps.stdout ?? process.stdout;
  const stdin = deps.stdin ?? process.stdin;
  const prompt = deps.prompt ?? promptHidden;
  const warn = (m: string): void => {
    stderr.write(`[WARNING]: ${m}\n`);
  };
  const vaultIds = f.vaultId ?? [];
  for (const id of vaultIds) {
    if (id.includes(';')) {
      throw new VaultOptionsError(
        `'${id}' is not a valid vault id. The character ';' is not allowed in vault ids`,
      );
    }
  }
  if (f.output && files.length > 1) {
    throw new VaultOptionsError('At most one input file may be used with the --output option');
  }
  const settings = vaultSettings();
  const base: VaultCliOptions = {
    vaultId: vaultIds,
    vaultPasswordFile: [
      ...(f.vaultPasswordFile ?? []),
      ...(f.vaultPassFile ?? []),
      ...settings.passwordFiles,
    ],
    askVaultPass: Boolean(f.askVaultPass || f.askVaultPassword),
    autoPrompt: true,
    warn,
    env: settings.env,
  };
  const encryptVaultId = f.encryptVaultId || settings.env.ANSIBLE_VAULT_ENCRYPT_IDENTITY || undefined;
  const idMatch = /^(1|true|yes|on)$/i.test(settings.env.ANSIBLE_VAULT_ID_MATCH ?? '');

  if (action === 'encrypt_string') {
    // Validate the inputs before asking for any password, as ansible-vault's option checks do.
    const readStdin = files.includes('-') || (files.length === 0 && !f.prompt) || f.stdinName !== undefined;
    if (f.prompt && readStdin) {
      throw new VaultOptionsError('The --prompt option is not supported if also reading input from stdin');
    }
  }

  if (action === 'decrypt' || action === 'view' || action === 'edit' || action === 'rekey') {
    const secrets = await loadVaultSecrets(base, prompt);
    if (secrets.length === 0)
      throw new VaultOptionsError("A vault password is required to use Ansible's Vault");
    const keyring = new Keyring(secrets, { idMatch });
    if (action === 'decrypt') {
      if (files.length === 0 && stdin === process.stdin && process.stdin.isTTY) {
        stderr.write('Reading ciphertext input from stdin\n');
      }
      for (const file of files.length > 0 ? files : ['-']) {
        const opts: StreamOptions = { stdin, stdout };
        if (f.output) opts.output = f.output;
        await decryptFile(keyring, file, opts);
      }
      if (stdout.isTTY) stderr.write('Decryption successful\n');
    } else if (action === 'view') {
      for (const file of files) {
        const text = keyring.decrypt(await readSource(file, stdin), file).toString('utf8');
        const shown = text.endsWith('\n') ? text : `${text}\n`;
        if (!(stdout === process.stdout && process.stdout.isTTY && page(shown)))
          await writeTarget('-', shown, stdout);
      }
    } else if (action === 'edit') {
      for (const file of files) await editFile(keyring, file);
    } else {
      const newSecret = await newRekeySecret(f, base, settings, encryptVaultId, prompt, warn);
      for (const file of files) await rekeyFile(keyring, file, newSecret);
      stderr.write('Rekey successful\n');
    }
    return;
  }

  // encrypt, encrypt_string, create: the secrets are for encrypting.
  const secrets = await loadVaultSecrets({ ...base, newPassword: true }, prompt);
  if (secrets.length > 1 && !encryptVaultId) {
    throw new VaultOptionsError(
      `The vault-ids ${secrets.map((s) => s.id).join(',')} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id`,
    );
  }
  if (secrets.length === 0)
    throw new VaultOptionsError("A vault password is required to use Ansible's Vault");
  const keyring = new Keyring(secrets);
  const secret = keyring.encryptSecret(encryptVaultId);
  const only = new Keyring([secret]);

  if (action === 'create') {
    if (files.length !== 1)
      throw new VaultOptionsError('drover vault create can take only one filename argument');
    await createFile(only, files[0]!, { warn });
  } else if (action === 'encrypt') {
    if (files.length === 0 && stdin === process.stdin && process.stdin.isTTY) {
      stderr.write('Reading plaintext input from stdin\n');
    }
    for (const file of files.length > 0 ? files : ['-']) {
      const opts: StreamOptions = { stdin, stdout };
      if (f.output) opts.output = f.output;
      await encryptFile(only, file, opts);
    }
    if (stdout.isTTY) stderr.write('Encryption successful\n');
  } else {
    await encryptStrings(only, files, f, {
      stdin,
      stdout,
      stderr,
      prompt,
      visible: deps.promptVisible ?? promptVisible,
    });
  }
}

interface VaultSettings {
  /** ansible.cfg's `vault_password_file` (relative to the cfg), unless the environment sets one. */
  passwordFiles: string[];
  /** process.env, with ansible.cfg's vault settings filled in where the environment has none. */
  env: NodeJS.ProcessEnv;
}

/** The vault settings of ansible.cfg, as ansible-vault reads them (the environment wins). */
function vaultSettings(): VaultSettings {
  const env: NodeJS.ProcessEnv = { ...process.env };
  let passwordFiles: string[] = [];
  try {
    const cfg = readAnsibleConfig(process.cwd());
    if (!env.DROVER_VAULT_PASSWORD_FILE && !env.ANSIBLE_VAULT_PASSWORD_FILE && cfg.vaultPasswordFile) {
      passwordFiles = [cfg.vaultPasswordFile];
    }
    const d = cfg.file ? (parseIni(readFileSync(cfg.file, 'utf8')).defaults ?? {}) : {};
    const fill: [string, string][] = [
      ['ANSIBLE_VAULT_IDENTITY_LIST', 'vault_identity_list'],
      ['ANSIBLE_VAULT_IDENTITY', 'vault_identity'],
      ['ANSIBLE_VAULT_ENCRYPT_IDENTITY', 'vault_encrypt_identity'],
      ['ANSIBLE_VAULT_ID_MATCH', 'vault_id_match'],
    ];
    for (const [name, key] of fill) if (env[name] === undefined && d[key] !== undefined) env[name] = d[key];
  } catch (e) {
    throw new VaultOptionsError(`cannot read ansible.cfg: ${(e as Error).message}`);
  }
  return { passwordFiles, env };
}

async function newRekeySecret(
  f: VaultFlags,
  base: VaultCliOptions,
  settings: VaultSettings,
  encryptVaultId: string | undefined,
  prompt: PromptFn,
  warn: (m: string) => void,
): Promise<VaultSecret> {
  // ansible-vault keeps ANSIBLE_VAULT_IDENTITY_LIST for the new secret only with an encrypt id.
  const env = { ...settings.env };
  if (!encryptVaultId) delete env.ANSIBLE_VAULT_IDENTITY_LIST;
  const opts: VaultCliOptions = {
    vaultId: f.newVaultId ? [f.newVaultId] : [],
    vaultPasswordFile: [
      ...(f.newVaultPasswordFile ? [f.newVaultPasswordFile] : []),
      ...settings.passwordFiles,
    ],
    autoPrompt: true,
    newPassword: true,
    env,
    warn,
  };
  if (base.askVaultPass) opts.askVaultPass = true;
  const secrets = await loadVaultSecrets(opts, prompt);
  if (secrets.length === 0) {
    throw new VaultOptionsError("A new vault password is required to use Ansible's Vault rekey");
  }
  return new Keyring(secrets).encryptSecret(encryptVaultId);
}

/** ansible-vault's `format_ciphertext_yaml`: a `!vault |` block indented 10 spaces. */
export function formatVaultYaml(ciphertext: string, name?: string): string {
  const lines = [`${name ? `${name}: ` : ''}!vault |`];
  for (const line of ciphertext.split('\n')) if (line !== '') lines.push(`${' '.repeat(10)}${line}`);
  return lines.join('\n');
}

async function encryptStrings(
  keyring: Keyring,
  args: string[],
  f: VaultFlags,
  io: {
    stdin: NodeJS.ReadableStream;
    stdout: NodeJS.WritableStream & { isTTY?: boolean };
    stderr: NodeJS.WritableStream;
    prompt: PromptFn;
    visible: PromptFn;
  },
): Promise<void> {
  const items: { text: Buffer; from: string; name: string | undefined }[] = [];
  const readStdin = args.includes('-') || (args.length === 0 && !f.prompt) || f.stdinName !== undefined;
  if (f.prompt) {
    const nameAnswer = await io.visible('Variable name (enter for no name): ');
    const answer = f.showInput
      ? await io.visible('String to encrypt: ')
      : await io.prompt('String to encrypt (hidden): ');
    if (answer === '')
      throw new VaultOptionsError('The plaintext provided from the prompt was empty, not encrypting');
    items.push({ text: Buffer.from(answer), from: 'the interactive prompt', name: nameAnswer || undefined });
  }
  if (readStdin) {
    if (io.stdout.isTTY) {
      io.stderr.write(
        'Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)\n',
      );
    }
    const text = await readSource('-', io.stdin);
    if (text.length === 0) throw new VaultOptionsError('stdin was empty, not encrypting');
    items.push({ text, from: 'stdin', name: f.stdinName });
  }
  const plain = args.filter((a) => a !== '-');
  const names = f.name ?? [];
  if (names.length > 0 && plain.length > names.length) {
    io.stderr.write('The number of --name options do not match the number of args.\n');
    io.stderr.write(`The last named variable will be "${names.at(-1)}". The rest will not have names.\n`);
  }
  plain.forEach((text, i) => {
    if (text === '') {
      throw new VaultOptionsError(
        'The plaintext provided from the command line args was empty, not encrypting',
      );
    }
    items.push({ text: Buffer.from(text), from: 'the command line args', name: names[i] });
  });
  const outs: string[] = [];
  items.forEach((item, i) => {
    if (items.length > 1) {
      io.stderr.write(
        item.name
          ? `# The encrypted version of variable ("${item.name}", the string #${i + 1} from ${item.from}).\n`
          : `# The encrypted version of the string #${i + 1} from ${item.from}.)\n`,
      );
    }
    outs.push(formatVaultYaml(keyring.encrypt(item.text), item.name));
  });
  await (f.output && f.output !== '-'
    ? writeTarget(f.output, outs.join('\n'), io.stdout)
    : new Promise<void>((res, rej) => io.stdout.write(outs.join('\n'), (e) => (e ? rej(e) : res()))));
  if (io.stdout.isTTY) io.stderr.write('Encryption successful\n');
}

// Runnable on its own (`node --import tsx cli/vault.ts encrypt ...`) for tests and scripts.
function invokedDirectly(): boolean {
  const self = process.argv[1];
  try {
    return self !== undefined && import.meta.url === pathToFileURL(realpathSync(self)).href;
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  const program = vaultCommand().name('drover-vault');
  program.exitOverride();
  program.parseAsync(process.argv).catch((e: unknown) => {
    if (e instanceof CommanderError) {
      process.exitCode = e.code.startsWith('commander.help') || e.code === 'commander.version' ? 0 : 2;
      return;
    }
    process.stderr.write(`ERROR! ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof VaultError ? e.exitCode : 250;
  });
}
