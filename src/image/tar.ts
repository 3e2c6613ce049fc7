/**
 * The tar format, written and read here on purpose (ADR 100): layer digests depend on every
 * byte of every header, so the encoder is ours and small. Output is POSIX pax/ustar:
 * ustar headers, a pax extended header only when a value does not fit (long or non-ASCII
 * path/linkpath, size >= 8 GiB, uid/gid >= 2^21) or for xattrs (SCHILY.xattr.NAME, binary
 * values kept). No atime/ctime, no uname/gname, fixed pax header metadata.
 */

import { InternalError } from '../errors.js';

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** Path inside the archive, no leading "/" or "./"; directories without the trailing "/". */
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer>;
}

export const BLOCK = 512;
const TYPEFLAG: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};
const MAX_OCTAL_7 = 0o7777777; // 8-byte numeric fields: 7 digits + NUL
const MAX_OCTAL_11 = 0o77777777777; // 12-byte numeric fields

/** Bytes of zero padding after a body of `size` bytes. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function writeOctal(buf: Buffer, off: number, len: number, value: number): void {
  const digits = value.toString(8).padStart(len - 1, '0');
  if (digits.length > len - 1) throw new InternalError(`tar: ${value} does not fit a ${len}-byte field`);
  buf.write(digits, off, 'ascii');
  buf[off + len - 1] = 0;
}

/** Splits an ASCII path into ustar (prefix, name), or returns undefined when it cannot. */
function splitUstar(path: string): [string, string] | undefined {
  if (path.length <= 100) return ['', path];
  for (let i = path.indexOf('/'); i !== -1 && i <= 155; i = path.indexOf('/', i + 1)) {
    const rest = path.length - i - 1;
    if (rest <= 100 && rest > 0) return [path.slice(0, i), path.slice(i + 1)];
  }
  return undefined;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

function ustarBlock(h: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, h.mtime);
  b.write(h.typeflag, 156, 1, 'ascii');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'ascii');
  writeOctal(b, 329, 8, h.devmajor);
  writeOctal(b, 337, 8, h.devminor);
  b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/** The header block(s) of one entry: an optional pax header (with its body) and the ustar block. */
export function encodeHeader(h: TarHeader): Buffer {
  if (!Number.isInteger(h.mtime) || h.mtime < 0) throw new InternalError(`tar: bad mtime ${h.mtime}`);
  const records: Buffer[] = [];
  const name = h.type === 'dir' ? `${h.name}/` : h.name;
  let prefix = '';
  let shortName = name;
  const split = isPlainAscii(name) ? splitUstar(name) : undefined;
  if (split) [prefix, shortName] = split;
  else {
    records.push(paxRecord('path', Buffer.from(name, 'utf8')));
    shortName = Buffer.from(name, 'utf8')
      .subarray(0, 100)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '_');
  }
  let linkname = h.linkname ?? '';
  if (linkname && !(isPlainAscii(linkname) && linkname.length <= 100)) {
    records.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
    linkname = linkname.slice(0, 100).replace(/[^\x20-\x7e]/g, '_');
  }
  let size = h.size;
  if (size > MAX_OCTAL_11) {
    records.push(paxRecord('size', Buffer.from(String(size))));
    size = 0;
  }
  let uid = h.uid;
  if (uid > MAX_OCTAL_7) {
    records.push(paxRecord('uid', Buffer.from(String(uid))));
    uid = 0;
  }
  let gid = h.gid;
  if (gid > MAX_OCTAL_7) {
    records.push(paxRecord('gid', Buffer.from(String(gid))));
    gid = 0;
  }
  if (h.xattrs) {
    for (const key of Object.keys(h.xattrs).sort()) {
      records.push(paxRecord(`SCHILY.xattr.${key}`, h.xattrs[key]!));
    }
  }
  const main = ustarBlock({
    name: shortName,
    prefix,
    mode: h.mode,
    uid,
    gid,
    size,
    mtime: h.mtime,
    typeflag: TYPEFLAG[h.type],
    linkname,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (records.length === 0) return main;
  const pax = Buffer.concat(records);
  // Fixed metadata for the pax header itself: nothing of the build machine leaks.
  const paxHeader = ustarBlock({
    name: 'PaxHeaders/entry',
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: pax.length,
    mtime: 0,
    typeflag: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padding(pax.length)), main]);
}

// ---------------------------------------------------------------------------------------
// Reading

/** Pulls exact byte counts out of an async iterable of chunks, without buffering more than a chunk. */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(source: AsyncIterable<Buffer | Uint8Array | string>) {
    const inner = source[Symbol.asyncIterator]();
    this.it = {
      next: async () => {
        const r = await inner.next();
        if (r.done) return r;
        const v = r.value;
        return { done: false, value: typeof v === 'string' ? Buffer.from(v) : Buffer.from(v) };
      },
    };
  }
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }
  /** Exactly n bytes, or fewer at the end of input. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.fill())) break;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  /** Up to n bytes (at least one unless input ended), for streaming bodies. */
  async readSome(n: number): Promise<Buffer> {
    if (this.buf.length === 0) await this.fill();
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return out;
  }
}

function readOctal(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = b
    .subarray(off, off + len)
    .toString('ascii')
    .replace(/[\0 ].*$/s, '')
    .trim();
  return s === '' ? 0 : Number.parseInt(s, 8);
}

function readString(b: Buffer, off: number, len: number): string {
  const slice = b.subarray(off, off + len);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? len : end).toString('utf8');
}

function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number.parseInt(buf.subarray(i, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = buf.subarray(sp + 1, i + len - 1); // without the trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq !== -1) out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    i += len;
  }
  return out;
}

export interface ReadEntry extends TarHeader {
  /** Reads the body in chunks; must be drained (or skipped) before the next entry. */
  body(): AsyncGenerator<Buffer>;
}

const FROM_FLAG: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Streams the entries of an uncompressed tar. Bodies left unread are skipped. */
export async function* readTar(
  source: AsyncIterable<Buffer | Uint8Array | string>,
): AsyncGenerator<ReadEntry> {
  const r = new ByteReader(source);
  let pending = 0; // body bytes (with padding) of the previous entry still to skip
  let globalPax = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  const skip = async (n: number) => {
    while (n > 0) {
      const got = await r.readSome(Math.min(n, 1 << 20));
      if (got.length === 0) throw new Error('tar: truncated archive');
      n -= got.length;
    }
  };
  const readBody = async (size: number): Promise<Buffer> => {
    const b = await r.read(size);
    if (b.length < size) throw new Error('tar: truncated archive');
    await skip(padding(size));
    return Buffer.from(b);
  };
  for (;;) {
    await skip(pending);
    pending = 0;
    const block = await r.read(BLOCK);
    if (block.length === 0) return; // no end-of-archive marker; accept as GNU tar does
    if (block.length < BLOCK) throw new Error('tar: truncated header');
    if (block.every((x) => x === 0)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== readOctal(block, 148, 8)) throw new Error('tar: bad header checksum (not a tar, or corrupt)');
    const flag = String.fromCharCode(block[156]!);
    const size0 = readOctal(block, 124, 12);
    if (flag === 'x' || flag === 'g') {
      const recs = parsePax(await readBody(size0));
      if (flag === 'g') globalPax = new Map([...globalPax, ...recs]);
      else pax = recs;
      continue;
    }
    if (flag === 'L' || flag === 'K') {
      const s = (await readBody(size0)).toString('utf8').replace(/\0+$/, '');
      if (flag === 'L') longName = s;
      else longLink = s;
      continue;
    }
    const type = FROM_FLAG[flag];
    if (!type)
      throw new Error(
        `tar: unsupported entry type '${flag}' (GNU sparse and volume headers are not supported)`,
      );
    const all = new Map([...globalPax, ...pax]);
    const magicUstar = block.subarray(257, 263).toString('latin1') === 'ustar\u0000';
    let name = readString(block, 0, 100);
    if (magicUstar && block[345] !== 0) name = `${readString(block, 345, 155)}/${name}`;
    if (longName !== undefined) name = longName;
    if (all.has('path')) name = all.get('path')!.toString('utf8');
    let linkname = readString(block, 157, 100);
    if (longLink !== undefined) linkname = longLink;
    if (all.has('linkpath')) linkname = all.get('linkpath')!.toString('utf8');
    const num = (key: string, v: number) => (all.has(key) ? Number(all.get(key)!.toString('ascii')) : v);
    const size = type === 'file' ? num('size', size0) : 0;
    const xattrs: Record<string, Buffer> = {};
    let hasX = false;
    for (const [k, v] of all) {
      if (k.startsWith('SCHILY.xattr.')) {
        xattrs[k.slice('SCHILY.xattr.'.length)] = v;
        hasX = true;
      }
    }
    const entry: ReadEntry = {
      name: name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, ''),
      type,
      mode: readOctal(block, 100, 8),
      uid: num('uid', readOctal(block, 108, 8)),
      gid: num('gid', readOctal(block, 116, 8)),
      size,
      mtime: Math.floor(num('mtime', readOctal(block, 136, 12))),
      devmajor: readOctal(block, 329, 8),
      devminor: readOctal(block, 337, 8),
      body: async function* () {
        let left = size;
        while (left > 0) {
          const chunk = await r.readSome(Math.min(left, 1 << 20));
          if (chunk.length === 0) throw new Error('tar: truncated archive');
          left -= chunk.length;
          pending -= chunk.length;
          yield chunk;
        }
      },
    };
    if (linkname) entry.linkname = linkname;
    if (hasX) entry.xattrs = xattrs;
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    pending = size + padding(size);
    yield entry;
  }
}
