/**
 * crypt(3) hashes as Python's crypt module produces them (Ansible's password_hash without
 * passlib): SHA-512-crypt ($6$), SHA-256-crypt ($5$) and MD5-crypt ($1$).
 */
import { createHash, randomInt } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[w & 0x3f];
    w >>= 6;
  }
  return out;
}

function shaCrypt(
  algo: 'sha256' | 'sha512',
  password: string,
  salt: string,
  rounds: number | undefined,
): string {
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(salt.slice(0, 16), 'utf8');
  const R = rounds === undefined ? 5000 : Math.min(Math.max(rounds, 1000), 999999999);
  const hlen = algo === 'sha512' ? 64 : 32;
  const h = () => createHash(algo);
  const B = h().update(P).update(S).update(P).digest();
  const a = h().update(P).update(S);
  let n = P.length;
  for (; n > hlen; n -= hlen) a.update(B);
  a.update(B.subarray(0, n));
  for (let l = P.length; l > 0; l >>= 1) a.update(l & 1 ? B : P);
  let A = a.digest();
  const dp = h();
  for (let i = 0; i < P.length; i++) dp.update(P);
  const DP = dp.digest();
  const Pseq = Buffer.alloc(P.length);
  for (let i = 0; i < P.length; i++) Pseq[i] = DP[i % hlen]!;
  const ds = h();
  for (let i = 0; i < 16 + A[0]!; i++) ds.update(S);
  const DS = ds.digest();
  const Sseq = Buffer.alloc(S.length);
  for (let i = 0; i < S.length; i++) Sseq[i] = DS[i % hlen]!;
  for (let r = 0; r < R; r++) {
    const c = h();
    c.update(r & 1 ? Pseq : A);
    if (r % 3) c.update(Sseq);
    if (r % 7) c.update(Pseq);
    c.update(r & 1 ? A : Pseq);
    A = c.digest();
  }
  let out = '';
  if (algo === 'sha512') {
    const order = [
      [0, 21, 42],
      [22, 43, 1],
      [44, 2, 23],
      [3, 24, 45],
      [25, 46, 4],
      [47, 5, 26],
      [6, 27, 48],
      [28, 49, 7],
      [50, 8, 29],
      [9, 30, 51],
      [31, 52, 10],
      [53, 11, 32],
      [12, 33, 54],
      [34, 55, 13],
      [56, 14, 35],
      [15, 36, 57],
      [37, 58, 16],
      [59, 17, 38],
      [18, 39, 60],
      [40, 61, 19],
      [62, 20, 41],
    ];
    for (const [x, y, z] of order) out += b64From24(A[x!]!, A[y!]!, A[z!]!, 4);
    out += b64From24(0, 0, A[63]!, 2);
  } else {
    const order = [
      [0, 10, 20],
      [21, 1, 11],
      [12, 22, 2],
      [3, 13, 23],
      [24, 4, 14],
      [15, 25, 5],
      [6, 16, 26],
      [27, 7, 17],
      [18, 28, 8],
      [9, 19, 29],
    ];
    for (const [x, y, z] of order) out += b64From24(A[x!]!, A[y!]!, A[z!]!, 4);
    out += b64From24(0, A[31]!, A[30]!, 3);
  }
  const id = algo === 'sha512' ? '6' : '5';
  // 5000 is sha-crypt's implicit count: passlib (and glibc) leave it out of the hash.
  const roundsPart = rounds === undefined || R === 5000 ? '' : `rounds=${R}$`;
  return `$${id}$${roundsPart}${S.toString('utf8')}$${out}`;
}

function md5Crypt(password: string, salt: string): string {
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(salt.slice(0, 8), 'utf8');
  const magic = Buffer.from('$1$');
  const md5 = () => createHash('md5');
  const alt = md5().update(P).update(S).update(P).digest();
  const ctx = md5().update(P).update(magic).update(S);
  for (let n = P.length; n > 0; n -= 16) ctx.update(alt.subarray(0, Math.min(16, n)));
  for (let l = P.length; l > 0; l >>= 1) ctx.update(l & 1 ? Buffer.from([0]) : P.subarray(0, 1));
  let fin = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = md5();
    c.update(i & 1 ? P : fin);
    if (i % 3) c.update(S);
    if (i % 7) c.update(P);
    c.update(i & 1 ? fin : P);
    fin = c.digest();
  }
  const f = fin;
  const out =
    b64From24(f[0]!, f[6]!, f[12]!, 4) +
    b64From24(f[1]!, f[7]!, f[13]!, 4) +
    b64From24(f[2]!, f[8]!, f[14]!, 4) +
    b64From24(f[3]!, f[9]!, f[15]!, 4) +
    b64From24(f[4]!, f[10]!, f[5]!, 4) +
    b64From24(0, 0, f[11]!, 2);
  return `$1$${S.toString('utf8')}$${out}`;
}

export function randomSalt(len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += ITOA64[randomInt(64)];
  return s;
}

const ALIASES: Record<string, string> = {
  sha512: 'sha512_crypt',
  sha512_crypt: 'sha512_crypt',
  sha256: 'sha256_crypt',
  sha256_crypt: 'sha256_crypt',
  md5: 'md5_crypt',
  md5_crypt: 'md5_crypt',
};

export function passwordHash(password: string, hashtype: string, salt?: unknown, rounds?: unknown): string {
  const scheme = ALIASES[hashtype];
  if (!scheme) throw new Error(`crypt does not support '${hashtype}' algorithm`);
  // passlib's defaults, which ansible-core uses when passlib is installed (as on Debian).
  const r =
    rounds === undefined || rounds === null ? (scheme === 'sha512_crypt' ? 656000 : 535000) : Number(rounds);
  if (scheme === 'md5_crypt') return md5Crypt(password, salt == null ? randomSalt(8) : String(salt));
  const s = salt == null ? randomSalt(16) : String(salt);
  return shaCrypt(scheme === 'sha512_crypt' ? 'sha512' : 'sha256', password, s, r);
}
