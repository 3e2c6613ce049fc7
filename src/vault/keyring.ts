/**
 * The secrets a run holds, and the one place that decrypts with them. Inventory, vars and
 * playbook loading get a Keyring; output gets every decrypted value through `onSecret`.
 */
import { loadYaml } from '../yaml/load.js';
import { VaultError } from './error.js';
import {
  DEFAULT_VAULT_ID,
  type DerivedKeys,
  deriveKeys,
  deriveKeysAsync,
  encryptVaultText,
  findVaultSalts,
  isVaultText,
  openPayload,
  parseEnvelope,
  parsePayload,
  VAULT_HEADER,
} from './format.js';

export interface VaultSecret {
  id: string;
  password: Buffer;
}

export interface KeyringOptions {
  /**
   * Only try secrets whose id matches the file's label (Ansible's `vault_id_match`,
   * env `ANSIBLE_VAULT_ID_MATCH`). Default: try the matching label first, then all others.
   */
  idMatch?: boolean;
}

export interface OpenedVault {
  plaintext: Buffer;
  /** The secret that decrypted it. */
  secret: VaultSecret;
  /** The label in the file's header (1.2), if any. */
  fileId: string | undefined;
}

const NO_SECRET_HINT =
  'Give the password that encrypted it: --vault-password-file FILE, --vault-id LABEL@SOURCE or --ask-vault-pass.';
// Deriving keys costs 10000 PBKDF2 rounds; a vars file loaded for every host would pay that
// again and again without this cache. Salts are random per encryption, so it stays small.
const KEY_CACHE_LIMIT = 8192;

export class Keyring {
  private readonly secrets: VaultSecret[];
  private readonly listeners: ((plaintext: string) => void)[] = [];
  private readonly keyCache = new Map<string, DerivedKeys>();
  private readonly idMatch: boolean;
  /** Key derivations done on the main thread (not prepared ahead): for tests and -vvvv. */
  syncDerivations = 0;

  constructor(secrets: VaultSecret[], opts: KeyringOptions = {}) {
    this.secrets = [...secrets];
    this.idMatch = opts.idMatch ?? /^(1|true|yes|on)$/i.test(process.env.ANSIBLE_VAULT_ID_MATCH ?? '');
  }

  /** The ids of the secrets held, in the order they are tried. */
  get ids(): string[] {
    return this.secrets.map((s) => s.id);
  }

  get size(): number {
    return this.secrets.length;
  }

  /** Decrypts and tells which secret worked; throws VaultError naming `where`. */
  open(data: string | Uint8Array, where: string): OpenedVault {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    const env = parseEnvelope(text, where);
    const payload = parsePayload(env.body, where);
    if (this.secrets.length === 0) {
      throw new VaultError(
        `Attempting to decrypt but no vault secrets found (decrypting ${where})`,
        NO_SECRET_HINT,
      );
    }
    const fileId = env.id;
    const ordered = this.candidates(fileId);
    const saltKey = payload.salt.toString('hex');
    for (const secret of ordered) {
      const plaintext = openPayload(payload, this.keysFor(secret, saltKey, payload.salt));
      if (plaintext) return { plaintext, secret, fileId };
    }
    throw new VaultError(
      `Decryption failed (no vault secrets were found that could decrypt) on ${where}`,
      `The ${ordered.length === 1 ? 'vault secret' : `${ordered.length} vault secrets`} given (${ordered
        .map((s) => `'${s.id}'`)
        .join(
          ', ',
        )}) did not open it${fileId ? ` (it is labelled '${fileId}')` : ''}: check the password, or give the right one with --vault-id LABEL@SOURCE, --vault-password-file FILE or --ask-vault-pass.`,
    );
  }

  decrypt(data: string | Uint8Array, where: string): Buffer {
    return this.open(data, where).plaintext;
  }

  /**
   * Decrypts to UTF-8 and registers the plaintext for masking. A whole encrypted YAML file
   * (vars files, group_vars, inventories decrypt through the same callback as inline values)
   * is registered value by value: its lines (`---`, `key:`) are structure, not secrets, and
   * masking them would garble every output.
   */
  decryptText(data: string, where: string): string {
    const text = this.decrypt(data, where).toString('utf8');
    this.noteDecrypted(text, where);
    return text;
  }

  private noteDecrypted(text: string, where: string): void {
    // A one-line vars file (`db_password: x`) is a mapping too: its value must be registered,
    // not only the whole line (that leaked `x` everywhere). A one-line inline value that
    // happens to parse as a mapping keeps its whole text registered as well.
    const multiLine = text.trimEnd().includes('\n');
    if (multiLine || /:\s|^\s*[-{[]/.test(text)) {
      let docs: unknown[] | undefined;
      try {
        const y = loadYaml(text, where, { decryptVault: (c, w) => this.decrypt(c, w).toString('utf8') });
        docs = y.problems.length === 0 && y.docs.length > 0 ? y.docs : undefined;
      } catch {
        docs = undefined;
      }
      if (docs?.some((d) => d !== null && typeof d === 'object')) {
        this.noteSecretsIn(docs);
        if (!multiLine) this.noteSecret(text);
        return;
      }
    }
    this.noteSecret(text);
  }

  /** Every decrypted value is passed to `cb` (the output redactor subscribes here). */
  onSecret(cb: (plaintext: string) => void): void {
    this.listeners.push(cb);
  }

  /**
   * Registers a value as secret. Loaders of whole vault-encrypted files (vars files,
   * group_vars) call this for each value they read from one, through `noteSecretsIn`.
   */
  noteSecret(plaintext: string): void {
    for (const cb of this.listeners) cb(plaintext);
  }

  /** Registers every string leaf (and number, as text) of a value loaded from an encrypted file. */
  noteSecretsIn(value: unknown): void {
    const seen = new Set<unknown>();
    const walk = (v: unknown): void => {
      if (typeof v === 'string') this.noteSecret(v);
      else if (typeof v === 'number' || typeof v === 'bigint') this.noteSecret(String(v));
      else if (v !== null && typeof v === 'object' && !seen.has(v)) {
        seen.add(v);
        if (Array.isArray(v)) v.forEach(walk);
        else if (typeof (v as { toJSON?: unknown }).toJSON === 'function' && !(v instanceof Date)) {
          walk((v as { toJSON(): unknown }).toJSON());
        } else for (const x of Object.values(v)) walk(x);
      }
    };
    walk(value);
  }

  /**
   * Encrypts with the secret labelled `opts.id`, or the first secret. A 'default' id gives
   * a 1.1 file, any other a 1.2 file carrying the label (as ansible-vault does).
   */
  encrypt(plaintext: string | Uint8Array, opts: { id?: string; salt?: Uint8Array } = {}): string {
    const secret = this.encryptSecret(opts.id);
    if (isVaultText(plaintext)) throw new VaultError('input is already encrypted');
    const enc: { id?: string; salt?: Uint8Array } = { id: secret.id };
    if (opts.salt) enc.salt = opts.salt;
    return encryptVaultText(plaintext, secret.password, enc);
  }

  /** The secret `encrypt` would use (exported for the CLI's checks). */
  encryptSecret(id?: string): VaultSecret {
    if (this.secrets.length === 0) {
      throw new VaultError('A vault password must be specified to encrypt data', NO_SECRET_HINT);
    }
    if (id === undefined) return this.secrets[0]!;
    const s = this.secrets.find((x) => x.id === id);
    if (!s) {
      throw new VaultError(
        `Did not find a match for --encrypt-vault-id=${id} in the known vault-ids [${this.ids.map((x) => `'${x}'`).join(', ')}]`,
      );
    }
    return s;
  }

  /** The decryptor `loadYaml` takes for inline `!vault` values. */
  yamlDecryptor(): (ciphertext: string, where: string) => string {
    return (ciphertext, where) => this.decryptText(ciphertext, where);
  }

  /**
   * Derives the keys for every vault value in `texts` in parallel on the thread pool, so the
   * synchronous decrypts that follow find them cached. Loaders call it with the files they are
   * about to parse; the 10000 PBKDF2 rounds per value then overlap with each other and with
   * other work (connecting to hosts) instead of blocking the event loop one by one.
   */
  async prepare(texts: Iterable<string>): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const text of texts) {
      if (!text.includes(VAULT_HEADER)) continue;
      for (const { id, salt } of findVaultSalts(text)) {
        const secret = this.candidates(id)[0];
        if (!secret) continue;
        const key = this.cacheKey(secret, salt.toString('hex'));
        if (this.keyCache.has(key)) continue;
        jobs.push(deriveKeysAsync(secret.password, salt).then((k) => this.remember(key, k)));
      }
    }
    await Promise.all(jobs);
  }

  private candidates(fileId: string | undefined): VaultSecret[] {
    if (fileId === undefined) return this.secrets;
    return [
      ...this.secrets.filter((s) => s.id === fileId),
      ...(this.idMatch ? [] : this.secrets.filter((s) => s.id !== fileId)),
    ];
  }

  private cacheKey(secret: VaultSecret, saltHex: string): string {
    return `${this.secrets.indexOf(secret)}:${saltHex}`;
  }

  private remember(key: string, k: DerivedKeys): void {
    if (this.keyCache.size >= KEY_CACHE_LIMIT) {
      const oldest = this.keyCache.keys().next().value;
      if (oldest !== undefined) this.keyCache.delete(oldest);
    }
    this.keyCache.set(key, k);
  }

  private keysFor(secret: VaultSecret, saltKey: string, salt: Buffer): DerivedKeys {
    const key = this.cacheKey(secret, saltKey);
    let k = this.keyCache.get(key);
    if (!k) {
      k = deriveKeys(secret.password, salt);
      this.syncDerivations++;
      this.remember(key, k);
    }
    return k;
  }
}

export { DEFAULT_VAULT_ID };
