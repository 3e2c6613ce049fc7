/**
 * Executable (dynamic) inventory scripts, as Ansible's `script` plugin runs them:
 * `SCRIPT --list` prints JSON groups; host variables come from `_meta.hostvars`, or else
 * from `SCRIPT --host NAME` for every host. A failing script is reported with its stderr.
 */
import { execFile } from 'node:child_process';
import type { Problem } from '../errors.js';
import { type InventoryData, InventoryGraphError } from './data.js';

interface RunOutput {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: string;
}

function run(path: string, args: string[]): Promise<RunOutput> {
  return new Promise((resolve) => {
    execFile(path, args, { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code === 'string') {
        resolve({ code: null, stdout, stderr, spawnError: `${err.code}: ${err.message}` });
        return;
      }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withStderr(stderr: string): string {
  const s = stderr.trimEnd();
  return s ? `\n  stderr:\n    ${s.split('\n').join('\n    ')}` : '';
}

/** Runs the script; problems carry the script path (line 1: the output has no lines of its own). */
export async function parseScriptInventory(
  inv: InventoryData,
  path: string,
): Promise<{ problems: Problem[]; ran: boolean }> {
  const problems: Problem[] = [];
  const pos = { file: path, line: 1, col: 1 };
  const fail = (message: string, hint?: string): void => {
    const p: Problem = { message, pos, severity: 'error' };
    if (hint) p.hint = hint;
    problems.push(p);
  };
  const out = await run(path, ['--list']);
  if (out.spawnError !== undefined)
    return { problems: [{ message: out.spawnError, pos, severity: 'error' }], ran: false };
  if (out.code !== 0) {
    fail(
      `inventory script failed with exit code ${out.code} when run as '${path} --list'${withStderr(out.stderr)}`,
      'run the script by hand with --list to see what went wrong',
    );
    return { problems, ran: true };
  }
  let data: unknown;
  try {
    data = JSON.parse(out.stdout);
  } catch (e) {
    fail(
      `inventory script printed invalid JSON for --list: ${(e as Error).message}${withStderr(out.stderr)}`,
      'a dynamic inventory must print one JSON object on stdout (diagnostics go to stderr)',
    );
    return { problems, ran: true };
  }
  if (!isPlainObject(data)) {
    fail(
      `inventory script output must be a JSON object (a dict of groups), got ${JSON.stringify(data).slice(0, 60)}`,
    );
    return { problems, ran: true };
  }
  const hosts = new Set<string>();
  let meta: Record<string, unknown> | undefined;
  try {
    for (const [group, raw] of Object.entries(data)) {
      if (group === '_meta') {
        if (isPlainObject(raw) && 'hostvars' in raw) meta = (raw.hostvars ?? {}) as Record<string, unknown>;
        continue;
      }
      inv.addGroup(group);
      let g: Record<string, unknown>;
      if (!isPlainObject(raw)) g = { hosts: raw };
      else if (!('hosts' in raw || 'vars' in raw || 'children' in raw)) g = { hosts: [group], vars: raw };
      else g = raw;
      if ('hosts' in g) {
        if (!Array.isArray(g.hosts))
          throw new InventoryGraphError(
            `group '${group}' has bad data for the host list: ${JSON.stringify(g.hosts)}`,
          );
        for (const h of g.hosts) {
          if (typeof h !== 'string')
            throw new InventoryGraphError(
              `group '${group}' lists a host that is not a string: ${JSON.stringify(h)}`,
            );
          hosts.add(h);
          inv.addHost(h, group);
        }
      }
      if ('vars' in g) {
        if (!isPlainObject(g.vars))
          throw new InventoryGraphError(
            `group '${group}' has bad data for variables: ${JSON.stringify(g.vars)}`,
          );
        for (const [k, v] of Object.entries(g.vars)) inv.setVariable(group, k, v);
      }
      if ('children' in g && Array.isArray(g.children)) {
        for (const child of g.children) {
          inv.addGroup(String(child));
          inv.addChild(group, String(child));
        }
      }
    }
  } catch (e) {
    if (e instanceof InventoryGraphError) {
      fail(`inventory script output: ${e.message}`);
      return { problems, ran: true };
    }
    throw e;
  }
  const perHost = meta === undefined ? await hostVarsByHost(path, [...hosts], fail) : undefined;
  for (const h of hosts) {
    const got = meta !== undefined ? (meta[h] ?? {}) : (perHost?.get(h) ?? {});
    if (!isPlainObject(got)) {
      fail(`inventory script output: host variables for ${h} must be a JSON object`);
      continue;
    }
    for (const [k, v] of Object.entries(got)) inv.setVariable(h, k, v);
  }
  return { problems, ran: true };
}

async function hostVarsByHost(
  path: string,
  hosts: string[],
  fail: (m: string) => void,
): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  // A few at a time: scripts are often slow API clients and must not be flooded.
  const queue = [...hosts];
  const worker = async (): Promise<void> => {
    for (let h = queue.shift(); h !== undefined; h = queue.shift()) {
      const r = await run(path, ['--host', h]);
      if (r.spawnError !== undefined) {
        fail(r.spawnError);
        continue;
      }
      if (r.stdout.trim() === '') {
        out.set(h, {});
        continue;
      }
      try {
        out.set(h, JSON.parse(r.stdout));
      } catch {
        fail(
          `could not parse the output of '${path} --host ${h}' as JSON: ${r.stdout.slice(0, 200)}${withStderr(r.stderr)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, hosts.length) }, worker));
  return out;
}
