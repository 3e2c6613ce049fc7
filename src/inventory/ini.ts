/**
 * INI inventories, parsed line by line like Ansible's `ini` plugin: sections `[g]`,
 * `[g:children]`, `[g:vars]`; host lines split with Python's shlex (comments on); every
 * `key=value` goes through Python literal evaluation. Groups named in `[x:children]` or
 * `[x:vars]` before they are defined are resolved at the end of the file.
 */
import type { Problem } from '../errors.js';
import { AddressError, expandHostPattern, HostRangeError } from './address.js';
import { type InventoryData, InventoryGraphError } from './data.js';
import { iniValue } from './literal.js';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/u;
const GROUPNAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;

export class IniLineError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/** Python shlex.split(line, comments=True, posix=True). */
export function shlexSplitComments(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '#') break;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      cur += s.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const d = s[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < s.length && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          cur += s[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) throw new Error('No closing quotation');
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= s.length) throw new Error('No escaped character');
      cur += s[i + 1];
      i += 2;
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) out.push(cur);
  return out;
}

interface Pending {
  line: number;
  state: 'vars' | 'children';
  name: string;
  parents: string[];
}

/** Parses INI text into `inv`; problems are returned with file:line, parsing goes on. */
export function parseIni(inv: InventoryData, text: string, file: string): Problem[] {
  const problems: Problem[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  const pending = new Map<string, Pending>();
  let groupname = 'ungrouped';
  let state = 'hosts';
  let sectionOk = true;
  const fail = (lineno: number, message: string, hint?: string): void => {
    const p: Problem = { message, pos: { file, line: lineno, col: 1 }, severity: 'error' };
    if (hint) p.hint = hint;
    problems.push(p);
  };
  const addPendingChildren = (group: string): void => {
    const decl = pending.get(group);
    if (!decl) return;
    pending.delete(group);
    for (const parent of decl.parents) {
      try {
        inv.addChild(parent, group);
      } catch (e) {
        if (e instanceof InventoryGraphError) fail(decl.line, e.message);
        else throw e;
      }
      const pd = pending.get(parent);
      if (pd && pd.state === 'children') addPendingChildren(parent);
    }
  };

  for (let idx = 0; idx < lines.length; idx++) {
    const lineno = idx + 1;
    const line = lines[idx]!.trim();
    if (!line || line[0] === '#' || line[0] === ';') continue;
    const m = SECTION.exec(line);
    if (m) {
      // Ansible 2.14 keeps invalid characters (TRANSFORM_INVALID_GROUP_CHARS=never) and only warns.
      groupname = m[1]!;
      state = m[2] ?? 'hosts';
      sectionOk = true;
      if (state !== 'hosts' && state !== 'children' && state !== 'vars') {
        fail(
          lineno,
          `section [${m[1]}:${m[2]}] has unknown type: ${state}`,
          'use [group], [group:children] or [group:vars]',
        );
        sectionOk = false;
        continue;
      }
      if (!inv.groups.has(groupname)) {
        if (state === 'vars' && !pending.has(groupname)) {
          pending.set(groupname, { line: lineno, state: 'vars', name: groupname, parents: [] });
        }
        inv.addGroup(groupname);
      }
      const decl = pending.get(groupname);
      if (decl && state !== 'vars') {
        if (decl.state === 'children') addPendingChildren(groupname);
        else pending.delete(groupname);
      }
      continue;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      fail(
        lineno,
        `invalid section entry: '${line}'`,
        'section names may not contain spaces or other invalid characters: [group], [group:children], [group:vars]',
      );
      sectionOk = false;
      continue;
    }
    if (!sectionOk) continue;
    try {
      if (state === 'hosts') parseHostLine(inv, line, groupname, lineno);
      else if (state === 'vars') {
        const eq = line.indexOf('=');
        if (eq < 0) throw new IniLineError(`expected key=value in [${groupname}:vars], got: ${line}`, lineno);
        inv.setVariable(groupname, line.slice(0, eq).trim(), iniValue(line.slice(eq + 1).trim()));
      } else {
        const gm = GROUPNAME.exec(line);
        if (!gm)
          throw new IniLineError(`expected a group name in [${groupname}:children], got: ${line}`, lineno);
        const child = gm[1]!;
        if (!inv.groups.has(child)) {
          const decl = pending.get(child);
          if (!decl)
            pending.set(child, { line: lineno, state: 'children', name: child, parents: [groupname] });
          else decl.parents.push(groupname);
        } else inv.addChild(groupname, child);
      }
    } catch (e) {
      if (e instanceof IniLineError) fail(e.line, e.message);
      else if (e instanceof InventoryGraphError || e instanceof HostRangeError) fail(lineno, e.message);
      else throw e;
    }
  }
  for (const decl of pending.values()) {
    if (decl.state === 'vars') {
      fail(
        decl.line,
        `section [${decl.name}:vars] is for an undefined group: ${decl.name}`,
        `define the group with [${decl.name}] or list it under some [parent:children]`,
      );
    } else {
      fail(
        decl.line,
        `section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group: ${decl.name}`,
        `define [${decl.name}] (a group with hosts) or remove the line`,
      );
    }
  }
  return problems;
}

function parseHostLine(inv: InventoryData, line: string, group: string, lineno: number): void {
  let tokens: string[];
  try {
    tokens = shlexSplitComments(line);
  } catch (e) {
    throw new IniLineError(`cannot parse host line '${line}': ${(e as Error).message}`, lineno);
  }
  if (tokens.length === 0) return;
  const pattern = tokens[0]!;
  let expanded: { hosts: string[]; port?: number };
  try {
    expanded = expandHostPattern(pattern);
  } catch (e) {
    if (e instanceof HostRangeError || e instanceof AddressError) {
      throw new IniLineError(`bad host range '${pattern}': ${e.message}`, lineno);
    }
    throw e;
  }
  if (pattern.trim().endsWith(':') && expanded.port === undefined) {
    throw new IniLineError(
      `invalid host pattern '${pattern}': a trailing ':' must be followed by a port number`,
      lineno,
    );
  }
  for (const h of expanded.hosts) {
    if (h.trim() === '---') {
      throw new IniLineError(
        `invalid host pattern '${pattern}': '---' is normally a sign this is a YAML file`,
        lineno,
      );
    }
  }
  const vars: [string, unknown][] = [];
  for (const t of tokens.slice(1)) {
    const eq = t.indexOf('=');
    if (eq < 0) throw new IniLineError(`expected key=value host variable assignment, got: ${t}`, lineno);
    vars.push([t.slice(0, eq), iniValue(t.slice(eq + 1))]);
  }
  for (const h of expanded.hosts) {
    inv.addHost(h, group, expanded.port);
    for (const [k, v] of vars) inv.setVariable(h, k, v);
  }
}
