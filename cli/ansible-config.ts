/**
 * The ansible.cfg settings users actually set, found the way Ansible finds the file:
 * $ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg (first wins).
 * Relative paths in it are relative to the file's directory, as in Ansible.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export interface AnsibleConfig {
  file?: string;
  inventory?: string[];
  rolesPath?: string[];
  forks?: number;
  remoteUser?: string;
  privateKeyFile?: string;
  hostKeyChecking?: boolean;
  timeout?: number;
  become?: boolean;
  becomeUser?: string;
  becomeMethod?: string;
  vaultPasswordFile?: string;
  stdoutCallback?: string;
  gathering?: string;
  displaySkippedHosts?: boolean;
  displayOkHosts?: boolean;
  nocolor?: boolean;
}

function bool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return ['yes', 'true', 'on', '1', 'y', 't'].includes(v.trim().toLowerCase());
}

export function findAnsibleConfig(cwd: string, env = process.env): string | undefined {
  const candidates = [
    env.ANSIBLE_CONFIG,
    join(cwd, 'ansible.cfg'),
    join(homedir(), '.ansible.cfg'),
    '/etc/ansible/ansible.cfg',
  ];
  return candidates.find((c): c is string => Boolean(c) && existsSync(c!));
}

export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = 'defaults';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = line.match(/^\[([^\]]+)\]$/);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    const m = line.match(/^([^=:]+?)\s*[=:]\s*(.*)$/);
    if (!m) continue;
    out[section] ??= {};
    out[section][m[1]!.trim()] = m[2]!.replace(/\s+[#;].*$/, '').trim();
  }
  return out;
}

export function readAnsibleConfig(cwd: string, env = process.env): AnsibleConfig {
  const file = findAnsibleConfig(cwd, env);
  const cfg: AnsibleConfig = {};
  let d: Record<string, string> = {};
  let pe: Record<string, string> = {};
  let base = cwd;
  if (file) {
    cfg.file = file;
    base = dirname(resolve(file));
    const ini = parseIni(readFileSync(file, 'utf8'));
    d = ini.defaults ?? {};
    pe = ini.privilege_escalation ?? {};
  }
  const rel = (p: string) => {
    const e = p.startsWith('~') ? join(homedir(), p.slice(1)) : p;
    return isAbsolute(e) ? e : resolve(base, e);
  };
  const pick = (envName: string, v: string | undefined) => env[envName] ?? v;
  const inv = pick('ANSIBLE_INVENTORY', d.inventory ?? d.hostfile);
  if (inv)
    cfg.inventory = inv
      .split(',')
      .filter(Boolean)
      .map((s) => (s.includes('/') || existsSync(rel(s)) ? rel(s.trim()) : s.trim()));
  const roles = pick('ANSIBLE_ROLES_PATH', d.roles_path);
  if (roles) cfg.rolesPath = roles.split(':').filter(Boolean).map(rel);
  const forks = pick('ANSIBLE_FORKS', d.forks);
  if (forks) cfg.forks = Number(forks);
  const user = pick('ANSIBLE_REMOTE_USER', d.remote_user);
  if (user) cfg.remoteUser = user;
  const key = pick('ANSIBLE_PRIVATE_KEY_FILE', d.private_key_file);
  if (key) cfg.privateKeyFile = rel(key);
  const hkc = bool(pick('ANSIBLE_HOST_KEY_CHECKING', d.host_key_checking));
  if (hkc !== undefined) cfg.hostKeyChecking = hkc;
  const timeout = pick('ANSIBLE_TIMEOUT', d.timeout);
  if (timeout) cfg.timeout = Number(timeout);
  const become = bool(pick('ANSIBLE_BECOME', pe.become));
  if (become !== undefined) cfg.become = become;
  const bu = pick('ANSIBLE_BECOME_USER', pe.become_user);
  if (bu) cfg.becomeUser = bu;
  const bm = pick('ANSIBLE_BECOME_METHOD', pe.become_method);
  if (bm) cfg.becomeMethod = bm;
  const vpf = pick('ANSIBLE_VAULT_PASSWORD_FILE', d.vault_password_file);
  if (vpf) cfg.vaultPasswordFile = rel(vpf);
  const cb = pick('ANSIBLE_STDOUT_CALLBACK', d.stdout_callback);
  if (cb) cfg.stdoutCallback = cb;
  const gathering = pick('ANSIBLE_GATHERING', d.gathering);
  if (gathering) cfg.gathering = gathering;
  const dsh = bool(pick('ANSIBLE_DISPLAY_SKIPPED_HOSTS', d.display_skipped_hosts));
  if (dsh !== undefined) cfg.displaySkippedHosts = dsh;
  const doh = bool(pick('ANSIBLE_DISPLAY_OK_HOSTS', d.display_ok_hosts));
  if (doh !== undefined) cfg.displayOkHosts = doh;
  const nc = bool(pick('ANSIBLE_NOCOLOR', d.nocolor));
  if (nc !== undefined) cfg.nocolor = nc;
  return cfg;
}
