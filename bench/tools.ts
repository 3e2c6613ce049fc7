/**
 * The command lines the benchmark compares: drover, ansible with its defaults, ansible
 * tuned the way its docs recommend for speed (pipelining, forks = hosts, ControlPersist).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const droverCli = join(repoRoot, 'dist/cli/drover.js');
export const benchPlaybooks = join(repoRoot, 'playbooks/bench');

export type Tool = 'drover' | 'ansible-defaults' | 'ansible-tuned';

export const TOOL_LABEL: Record<Tool, string> = {
  drover: 'drover',
  'ansible-defaults': 'ansible (defaults)',
  'ansible-tuned': 'ansible (tuned)',
};

/** What a run needs to reach the hosts: the fleet's files (or a proxied copy of them). */
export interface Target {
  inventoryFile: string;
  ansibleCfgFile: string;
  knownHostsFile: string;
  hosts: number;
  /** Scratch dir for per-run ControlMaster sockets. */
  scratchDir: string;
}

let runSeq = 0;

/**
 * Environment for one run. Every ansible run gets a fresh control_path_dir so no run
 * reuses a master another run opened (the measured process tree owns its masters, and
 * measure() ends them afterwards).
 */
export function toolEnv(tool: Tool, t: Target): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANSIBLE_CONFIG: t.ansibleCfgFile,
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_NOCOLOR: '1',
    NO_COLOR: '1',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
  };
  if (tool === 'drover') return env;
  const cp = join(t.scratchDir, `cp-${process.pid}-${++runSeq}`);
  mkdirSync(cp, { recursive: true, mode: 0o700 });
  env.ANSIBLE_SSH_CONTROL_PATH_DIR = cp;
  if (tool === 'ansible-defaults') {
    // ansible-core 2.14's own defaults: no pipelining, 5 forks, its default ssh_args.
    env.ANSIBLE_PIPELINING = 'False';
    env.ANSIBLE_FORKS = '5';
    env.ANSIBLE_SSH_ARGS = `-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${t.knownHostsFile}`;
  } else {
    env.ANSIBLE_PIPELINING = 'True';
    env.ANSIBLE_FORKS = String(t.hosts);
    // No compression on loopback: it only costs CPU.
    env.ANSIBLE_SSH_ARGS = `-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${t.knownHostsFile}`;
  }
  return env;
}

export function adhocArgv(tool: Tool, t: Target, module: string, args: string): string[] {
  if (tool === 'drover') {
    return [process.execPath, droverCli, 'exec', 'all', '-i', t.inventoryFile, '-m', module, '-a', args];
  }
  return ['ansible', 'all', '-i', t.inventoryFile, '-m', module, '-a', args];
}

export function playbookArgv(tool: Tool, t: Target, playbook: string, extra: string[] = []): string[] {
  if (tool === 'drover') {
    return [process.execPath, droverCli, 'playbook', '-i', t.inventoryFile, playbook, ...extra];
  }
  return ['ansible-playbook', '-i', t.inventoryFile, playbook, ...extra];
}

export interface RecapLine {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

/** The PLAY RECAP lines both tools print. */
export function parseRecap(stdout: string): RecapLine[] {
  const out: RecapLine[] = [];
  const re = /^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm;
  for (const m of stdout.matchAll(re)) {
    out.push({
      host: m[1] ?? '',
      ok: Number(m[2]),
      changed: Number(m[3]),
      unreachable: Number(m[4]),
      failed: Number(m[5]),
    });
  }
  return out;
}

/** Hosts that answered an ad-hoc run (`name | CHANGED | rc=0 >>` or `SUCCESS`). */
export function adhocAnswered(stdout: string): string[] {
  return [...stdout.matchAll(/^(\S+) \| (?:CHANGED|SUCCESS)\b/gm)].map((m) => m[1] ?? '');
}
