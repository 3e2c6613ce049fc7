/**
 * `-i infra:DIR`: hosts read straight from an infra state. Every managed resource instance
 * with an `address` attribute is a host, in a group named after its resource (`web` for
 * `machine.web[0]`) and one named after its type; `port`, `user` and the private key become
 * ansible_port, ansible_user and ansible_ssh_private_key_file.
 */
import { isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { quote } from '../shell/quote.js';
import type { AttrValue } from './provider.js';
import { InfraSession } from './session.js';
import type { StateInstance } from './state.js';

function hostName(i: StateInstance): string {
  const a = i.attributes;
  for (const k of ['hostname', 'name'])
    if (typeof a[k] === 'string' && /^[A-Za-z0-9][\w.-]*$/.test(a[k] as string)) return a[k] as string;
  const mod = i.module ? `${i.module.replace(/^module\./, '').replaceAll('.module.', '-')}-` : '';
  return `${mod}${i.name}${i.index_key === null ? '' : `-${i.index_key}`}`;
}

/** Host vars of one instance, or undefined when it is not a host. */
export function hostVars(i: StateInstance, dir: string): Record<string, AttrValue> | undefined {
  const a = i.attributes;
  if (i.mode !== 'managed' || i.status || i.deposed || typeof a.address !== 'string' || !a.address)
    return undefined;
  const vars: Record<string, AttrValue> = { ansible_host: a.address };
  if (typeof a.port === 'number' || (typeof a.port === 'string' && a.port))
    vars.ansible_port = Number(a.port);
  if (typeof a.user === 'string' && a.user) vars.ansible_user = a.user;
  const key = a.private_key_file ?? a.private_key_path;
  if (typeof key === 'string' && key)
    vars.ansible_ssh_private_key_file = isAbsolute(key) ? key : resolve(dir, key);
  // A machine names the known_hosts file that holds its host key: strict checking works as is.
  if (typeof a.known_hosts_file === 'string' && a.known_hosts_file)
    vars.ansible_ssh_common_args = `-o UserKnownHostsFile=${quote(a.known_hosts_file)}`;
  vars.infra_address = i.address;
  return vars;
}

/** The state of DIR as an Ansible YAML inventory (text), for the inventory loader. */
export async function infraInventoryText(dir: string): Promise<string> {
  const s = await InfraSession.open({ dir, noVars: true });
  try {
    const state = await s.readState();
    const groups: Record<string, { hosts: Record<string, Record<string, AttrValue>> }> = {};
    for (const i of state.resources) {
      const vars = hostVars(i, s.dir);
      if (!vars) continue;
      const name = hostName(i);
      for (const g of new Set([i.name, i.type])) {
        groups[g] ??= { hosts: {} };
        groups[g].hosts[name] = vars;
      }
    }
    return YAML.stringify({ all: { children: groups } }, { aliasDuplicateObjects: false });
  } finally {
    await s.close();
  }
}
