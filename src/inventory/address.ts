/**
 * Host addresses and ranges as Ansible parses them (ansible/parsing/utils/addresses.py and
 * expand_hostname_range): `host:2222`, `[::1]:22`, `web[01:50].example.com`, `db-[a:f]`,
 * `[1:10:2]`. Ported regex by regex so that what Ansible accepts, we accept.
 */

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const ipv6c = `(?:[0-9a-f]{1,4}|${hexRange})`;
const ipv4c = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`;
const word = String.raw`[\p{L}\p{N}_]`;
const label = String.raw`(?:${word}|${alnumRange})(?:[\p{L}\p{N}_-]|${alnumRange})*(?<![_-])`;

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/;
export const IPV4 = new RegExp(String.raw`^(?:${ipv4c}\.){3}${ipv4c}$`, 'i');
export const IPV6 = new RegExp(
  `^(?:${[
    `(?:${ipv6c}:){7}${ipv6c}`,
    `(?:${ipv6c}:){1,6}:`,
    `(?:${ipv6c}:)(?::${ipv6c}){1,6}`,
    `(?:${ipv6c}:){2}(?::${ipv6c}){1,5}`,
    `(?:${ipv6c}:){3}(?::${ipv6c}){1,4}`,
    `(?:${ipv6c}:){4}(?::${ipv6c}){1,3}`,
    `(?:${ipv6c}:){5}(?::${ipv6c}){1,2}`,
    `(?:${ipv6c}:){6}(?::${ipv6c})`,
    `:(?::${ipv6c}){1,6}`,
    `${ipv6c}?::`,
    String.raw`(?:0:){6}(?:${ipv6c}\.){3}${ipv6c}`,
    String.raw`::(?:ffff:)?(?:${ipv6c}\.){3}${ipv6c}`,
    String.raw`(?:0:){5}ffff:(?:${ipv6c}\.){3}${ipv6c}`,
  ].join('|')})$`,
  'i',
);
export const HOSTNAME = new RegExp(String.raw`^${label}(?:\.${label})*$`, 'iu');
// The same pattern for ASCII names, which are nearly all: with `\p{L}` and the `iu` flags V8
// builds Unicode case-folding tables, ~2.5 ms of every run's start-up. On ASCII input both
// patterns accept the same strings (the ASCII letters, digits and _ are exactly the
// ASCII members of [\p{L}\p{N}_]).
const asciiLabel = label.replaceAll(String.raw`\p{L}\p{N}_`, 'a-z0-9_');
export const HOSTNAME_ASCII = new RegExp(String.raw`^${asciiLabel}(?:\.${asciiLabel})*$`, 'i');
const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

export class AddressError extends Error {}

/**
 * Splits `host:port` (or `[v6]:port`); throws AddressError when the rest is not a
 * hostname, IPv4 or IPv6 address (ranges allowed only with `allowRanges`).
 */
export function parseAddress(address: string, allowRanges: boolean): { host: string; port?: number } {
  let rest = address;
  let port: number | undefined;
  // Python tries both patterns in turn, the second on what the first left.
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(rest);
    if (m) {
      rest = m[1]!;
      port = Number.parseInt(m[2]!, 10);
    }
  }
  // Python's `$` also matches before a final newline; inventory text never has one here.
  if (!(IPV4.test(rest) || IPV6.test(rest) || (isAscii(rest) ? HOSTNAME_ASCII : HOSTNAME).test(rest))) {
    throw new AddressError(`Not a valid network hostname: ${rest}`);
  }
  if (!allowRanges && rest.includes('['))
    throw new AddressError('Detected range in host but was asked to ignore ranges');
  return port === undefined ? { host: rest } : { host: rest, port };
}

export class HostRangeError extends Error {}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function pyInt(s: string): number {
  const t = s.trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(t)) throw new HostRangeError(`invalid number '${s}' in host range`);
  return Number.parseInt(t.replace(/_/g, ''), 10);
}

/** Expands every `[begin:end(:step)]` in `line`, left to right, as Ansible does. */
export function expandHostnameRange(line: string): string[] {
  const open = line.indexOf('[');
  const close = line.indexOf(']');
  const replaced = line.replace('[', '|').replace(']', '|');
  const parts = replaced.split('|');
  if (open < 0 || close < 0 || parts.length !== 3) {
    throw new HostRangeError(
      `host range in '${line}' must be a single [begin:end] or [begin:end:step] expression`,
    );
  }
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3)
    throw new HostRangeError('host range must be begin:end or begin:end:step');
  let beg = bounds[0]!;
  const end = bounds[1]!;
  const step = bounds.length === 3 ? pyInt(bounds[2]!) : 1;
  if (!beg) beg = '0';
  if (!end) throw new HostRangeError('host range must specify end value');
  let fill = (x: string | number): string => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    const rlen = beg.length;
    if (rlen !== end.length)
      throw new HostRangeError('host range must specify equal-length begin and end formats');
    fill = (x) => String(x).padStart(rlen, '0');
  }
  if (step === 0) throw new HostRangeError('host range step must not be zero');
  let seq: (string | number)[];
  // str.index in Python finds substrings, so [ab:cd] is a letter range from a to c.
  const iBeg = LETTERS.indexOf(beg);
  const iEnd = LETTERS.indexOf(end);
  if (iBeg >= 0 && iEnd >= 0) {
    if (iBeg > iEnd) throw new HostRangeError('host range must have begin <= end');
    seq = [];
    if (step > 0) for (let i = iBeg; i <= iEnd; i += step) seq.push(LETTERS[i]!);
  } else {
    const a = pyInt(beg);
    const b = pyInt(end);
    seq = [];
    for (let i = a; step > 0 ? i < b + 1 : i > b + 1; i += step) seq.push(i);
  }
  const out: string[] = [];
  for (const r of seq) {
    const name = head + fill(r) + tail;
    if (name.includes('[')) out.push(...expandHostnameRange(name));
    else out.push(name);
  }
  return out;
}

/** `hostpattern` → host names and the port that applies to all of them. */
export function expandHostPattern(hostpattern: string): { hosts: string[]; port?: number } {
  let pattern = hostpattern;
  let port: number | undefined;
  try {
    const a = parseAddress(hostpattern, true);
    pattern = a.host;
    port = a.port;
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
  }
  const hosts = pattern.includes('[') ? expandHostnameRange(pattern) : [pattern];
  return port === undefined ? { hosts } : { hosts, port };
}
