/**
 * The Ansible Vault file format (1.1 and 1.2, cipher AES256), byte-compatible with
 * ansible-core's `VaultAES256`:
 *
 *   $ANSIBLE_VAULT;1.1;AES256            (1.2 adds `;LABEL`)
 *   hex( hex(salt) "\n" hex(hmac) "\n" hex(ciphertext) ), in lines of 80 columns, final "\n"
 *
 * Keys: PBKDF2-HMAC-SHA256(password, salt, 10000 iterations) gives 80 bytes:
 * 32 bytes AES key, 32 bytes HMAC key, 16 bytes initial counter. The plaintext is PKCS7-padded
 * (a no-op necessity of CTR mode that Ansible keeps for compatibility) and encrypted with
 * AES-256-CTR; the HMAC-SHA256 covers the ciphertext.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  pbkdf2,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { VaultError } from './error.js';

export const VAULT_HEADER = '$ANSIBLE_VAULT';
export const DEFAULT_VAULT_ID = 'default';
const CIPHER = 'AES256';
const ITERATIONS = 10_000;
const KEY_LEN = 32;
const IV_LEN = 16;
const SALT_LEN = 32;
const LINE = 80;

export interface VaultEnvelope {
  version: string;
  cipher: string;
  /** The label of a 1.2 file; undefined for 1.1. */
  id: string | undefined;
  /** The outer hex text, line breaks removed. */
  body: string;
}

export interface DerivedKeys {
  cipherKey: Buffer;
  hmacKey: Buffer;
  iv: Buffer;
}

/** True when data starts with the vault header (what Ansible's `is_encrypted` tests). */
export function isVaultText(data: string | Uint8Array): boolean {
  if (typeof data === 'string') return data.startsWith(VAULT_HEADER);
  if (data.length < VAULT_HEADER.length) return false;
  for (let i = 0; i < VAULT_HEADER.length; i++) {
    if (data[i] !== VAULT_HEADER.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Splits the envelope. Whitespace around and inside body lines is ignored, because inline
 * `!vault` values arrive indented or re-flowed by YAML; Ansible itself only joins lines.
 */
export function parseEnvelope(text: string, where: string): VaultEnvelope {
  const trimmed = text.replace(/^\s+/, '');
  if (!isVaultText(trimmed)) {
    throw new VaultError(
      `input is not vault encrypted data. ${where} is not a vault encrypted file`,
      'Vault files start with "$ANSIBLE_VAULT;"; check that the right file was named.',
    );
  }
  const nl = trimmed.search(/[\r\n]/);
  const headerLine = (nl < 0 ? trimmed : trimmed.slice(0, nl)).trim();
  const body = (nl < 0 ? '' : trimmed.slice(nl)).replace(/\s+/g, '');
  const parts = headerLine.split(';').map((p) => p.trim());
  const version = parts[1];
  const cipher = parts[2];
  if (!version || !cipher) {
    throw new VaultError(`Vault envelope format error in ${where}: the header "${headerLine}" is incomplete`);
  }
  if (version !== '1.1' && version !== '1.2' && version !== '1.0') {
    throw new VaultError(`Vault envelope format error in ${where}: unknown vault format version ${version}`);
  }
  if (cipher !== CIPHER) {
    throw new VaultError(
      `${cipher} cipher could not be found (in ${where}); only AES256 vaults are supported`,
    );
  }
  const id = parts.length >= 4 && parts[3] ? parts[3] : undefined;
  return { version, cipher, id, body };
}

/** Header plus body in 80-column lines, newline-terminated, exactly as Ansible writes it. */
export function formatEnvelope(body: string, id?: string): string {
  const labelled = id !== undefined && id !== '' && id !== DEFAULT_VAULT_ID;
  // Ansible forbids only ';' (the header separator); a line break would end the header.
  if (labelled && /[;\r\n]/.test(id)) {
    throw new VaultError(
      `'${id}' is not a valid vault id. The characters ';' and line breaks are not allowed in vault ids`,
    );
  }
  const header = labelled ? `${VAULT_HEADER};1.2;${CIPHER};${id}` : `${VAULT_HEADER};1.1;${CIPHER}`;
  const lines = [header];
  for (let i = 0; i < body.length; i += LINE) lines.push(body.slice(i, i + LINE));
  lines.push('');
  return lines.join('\n');
}

export function deriveKeys(password: Uint8Array, salt: Uint8Array): DerivedKeys {
  return splitKeyMaterial(pbkdf2Sync(password, salt, ITERATIONS, 2 * KEY_LEN + IV_LEN, 'sha256'));
}

/** The same derivation on libuv's thread pool, so many run in parallel with other work. */
export function deriveKeysAsync(password: Uint8Array, salt: Uint8Array): Promise<DerivedKeys> {
  return new Promise((res, rej) =>
    pbkdf2(password, salt, ITERATIONS, 2 * KEY_LEN + IV_LEN, 'sha256', (e, km) =>
      e ? rej(e) : res(splitKeyMaterial(km)),
    ),
  );
}

/**
 * Every vault envelope in a text (a whole vault file, or a YAML file with inline `!vault`
 * blocks), as label and salt; damaged envelopes are skipped (decrypting them reports why).
 */
export function findVaultSalts(text: string): { id: string | undefined; salt: Buffer }[] {
  const found: { id: string | undefined; salt: Buffer }[] = [];
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const at = lines[i]!.indexOf(`${VAULT_HEADER};`);
    if (at < 0) continue;
    const parts = lines[i]!.slice(at).trim().split(';');
    let body = '';
    let j = i + 1;
    for (; j < lines.length; j++) {
      const t = lines[j]!.trim();
      if (!/^[0-9a-fA-F]+$/.test(t)) break;
      body += t;
    }
    try {
      found.push({ id: parts[3] || undefined, salt: parsePayload(body, 'scan').salt });
    } catch {
      // not decryptable anyway; the real decrypt reports it with its file name
    }
    i = j - 1;
  }
  return found;
}

function splitKeyMaterial(km: Buffer): DerivedKeys {
  return {
    cipherKey: km.subarray(0, KEY_LEN),
    hmacKey: km.subarray(KEY_LEN, 2 * KEY_LEN),
    iv: km.subarray(2 * KEY_LEN, 2 * KEY_LEN + IV_LEN),
  };
}

function pkcs7Pad(data: Uint8Array): Buffer {
  const n = 16 - (data.length % 16);
  return Buffer.concat([data, Buffer.alloc(n, n)]);
}

function pkcs7Unpad(data: Buffer): Buffer | undefined {
  if (data.length === 0 || data.length % 16 !== 0) return undefined;
  const n = data[data.length - 1]!;
  if (n < 1 || n > 16) return undefined;
  for (let i = data.length - n; i < data.length; i++) if (data[i] !== n) return undefined;
  return data.subarray(0, data.length - n);
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function unhex(s: string, what: string, where: string): Buffer {
  if (!HEX.test(s)) {
    throw new VaultError(
      `Vault format error in ${where}: ${what} is not valid hexadecimal`,
      'The file looks damaged (edited by hand, or truncated); restore it from version control.',
    );
  }
  return Buffer.from(s, 'hex');
}

export interface VaultPayload {
  salt: Buffer;
  hmac: Buffer;
  ciphertext: Buffer;
}

/** Undoes the outer hexlify and splits salt / hmac / ciphertext. */
export function parsePayload(body: string, where: string): VaultPayload {
  const inner = unhex(body, 'the vault text', where).toString('latin1');
  const first = inner.indexOf('\n');
  const second = first < 0 ? -1 : inner.indexOf('\n', first + 1);
  if (first < 0 || second < 0) {
    throw new VaultError(`Vault format error in ${where}: expected salt, HMAC and ciphertext`);
  }
  return {
    salt: unhex(inner.slice(0, first), 'the salt', where),
    hmac: unhex(inner.slice(first + 1, second), 'the HMAC', where),
    ciphertext: unhex(inner.slice(second + 1), 'the ciphertext', where),
  };
}

/** Checks the HMAC (in constant time) and decrypts; undefined when the key does not fit. */
export function openPayload(p: VaultPayload, keys: DerivedKeys): Buffer | undefined {
  const mac = createHmac('sha256', keys.hmacKey).update(p.ciphertext).digest();
  if (mac.length !== p.hmac.length || !timingSafeEqual(mac, p.hmac)) return undefined;
  const d = createDecipheriv('aes-256-ctr', keys.cipherKey, keys.iv);
  const padded = Buffer.concat([d.update(p.ciphertext), d.final()]);
  return pkcs7Unpad(padded);
}

/** Encrypts to the body (outer hex) of a vault envelope. */
export function sealPayload(plaintext: Uint8Array, password: Uint8Array, salt?: Uint8Array): string {
  const s = salt ?? randomBytes(SALT_LEN);
  if (s.length === 0) throw new VaultError('Empty salt passed to vault encrypt');
  const keys = deriveKeys(password, s);
  const c = createCipheriv('aes-256-ctr', keys.cipherKey, keys.iv);
  const ciphertext = Buffer.concat([c.update(pkcs7Pad(plaintext)), c.final()]);
  const mac = createHmac('sha256', keys.hmacKey).update(ciphertext).digest();
  const inner = `${Buffer.from(s).toString('hex')}\n${mac.toString('hex')}\n${ciphertext.toString('hex')}`;
  return Buffer.from(inner, 'latin1').toString('hex');
}

/** One-shot encrypt with one password: the full file text. */
export function encryptVaultText(
  plaintext: string | Uint8Array,
  password: Uint8Array,
  opts: { id?: string; salt?: Uint8Array } = {},
): string {
  const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return formatEnvelope(sealPayload(bytes, password, opts.salt), opts.id);
}
