/**
 * `drover inventory`: the same output as `ansible-inventory` (--list, --host, --graph),
 * for checking that drover reads an inventory the way Ansible does.
 */

import { existsSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { UsageError } from '../src/errors.js';
import { loadInventory } from '../src/inventory/inventory.js';
import {
  dumpJson,
  dumpYaml,
  inventoryGraph,
  inventoryHost,
  inventoryList,
  inventoryYaml,
} from '../src/inventory/output.js';
import { Keyring, loadVaultSecrets } from '../src/vault/index.js';

export interface InventoryCommandDeps {
  /** Vault decryption, wired by the vault options once they exist. */
  decryptVault?: (ciphertext: string, where: string) => string;
  /** Where output goes (stdout by default). */
  write?: (text: string) => void;
  /** Where warnings go (stderr by default). */
  warn?: (message: string) => void;
}

interface Opts {
  inventory?: string[];
  list?: boolean;
  host?: string;
  graph?: boolean;
  vars?: boolean;
  yaml?: boolean;
  export?: boolean;
  playbookDir?: string;
  limit?: string;
  output?: string;
  vaultPasswordFile?: string[];
  vaultId?: string[];
  askVaultPass?: boolean;
}

/** Ansible's default inventory: $ANSIBLE_INVENTORY (comma-separated paths), else /etc/ansible/hosts if it exists. */
function defaultSources(): string[] {
  const env = process.env.ANSIBLE_INVENTORY;
  if (env) return env.split(',').filter((s) => s.trim() !== '');
  return existsSync('/etc/ansible/hosts') ? ['/etc/ansible/hosts'] : [];
}

export function inventoryCommand(deps: InventoryCommandDeps = {}): Command {
  const write = deps.write ?? ((t: string) => process.stdout.write(`${t}\n`));
  const warn = deps.warn ?? ((m: string) => process.stderr.write(`[WARNING]: ${m}\n`));
  return new Command('inventory')
    .description('show the inventory as drover (and Ansible) resolves it')
    .option(
      '-i, --inventory <source>',
      'inventory file, directory, script or comma list (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--list', 'output all hosts and groups')
    .option('--host <name>', 'output the variables of one host')
    .option('--graph', 'output a graph of groups (optionally from GROUP)')
    .option('--vars', 'add variables to the graph')
    .option('-y, --yaml', 'output YAML instead of JSON')
    .option('--export', 'output group vars with groups instead of merged host vars')
    .option('--playbook-dir <dir>', 'also read group_vars/ and host_vars/ beside this playbook directory')
    .option('-l, --limit <pattern>', 'restrict the hosts to this pattern')
    .addOption(new Option('--output <file>', 'write to FILE instead of stdout'))
    .option(
      '--vault-pass-file, --vault-password-file <file>',
      'vault password file (repeatable)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('--vault-id <id>', 'vault identity label@source (repeatable)', (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .option('-J, --ask-vault-pass', 'ask for the vault password')
    .argument('[group]', 'group to start --graph at', 'all')
    .action(async (group: string, opts: Opts) => {
      const actions = [opts.list, opts.host !== undefined, opts.graph].filter(Boolean).length;
      if (actions === 0)
        throw new UsageError(
          'No action selected, at least one of --host, --graph or --list needs to be specified.',
        );
      if (actions > 1)
        throw new UsageError(
          'Conflicting options used, only one of --host, --graph or --list can be used at the same time.',
        );
      let decryptVault = deps.decryptVault;
      if (!decryptVault && (opts.vaultPasswordFile || opts.vaultId || opts.askVaultPass)) {
        const keyring = new Keyring(
          await loadVaultSecrets({
            ...(opts.vaultPasswordFile ? { vaultPasswordFile: opts.vaultPasswordFile } : {}),
            ...(opts.vaultId ? { vaultId: opts.vaultId } : {}),
            ...(opts.askVaultPass ? { askVaultPass: true } : {}),
          }),
        );
        decryptVault = (c, where) => keyring.decryptText(c, where);
      }
      const inv = await loadInventory({
        sources: opts.inventory ?? defaultSources(),
        warn,
        ...(opts.playbookDir !== undefined ? { playbookDir: opts.playbookDir } : {}),
        ...(decryptVault ? { decryptVault } : {}),
      });
      const outOpts = {
        export: opts.export === true,
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      };
      const dump = (v: unknown): string => (opts.yaml ? dumpYaml(v) : dumpJson(v));
      let text: string;
      if (opts.host !== undefined) {
        const hosts = inv.selectHosts(opts.host);
        if (hosts.length !== 1) throw new UsageError('You must pass a single valid host to --host parameter');
        text = dump(inventoryHost(inv, hosts[0]!, outOpts));
      } else if (opts.graph) {
        text = inventoryGraph(inv, group, opts.vars === true);
      } else {
        text = dump(opts.yaml ? inventoryYaml(inv, outOpts) : inventoryList(inv, outOpts));
      }
      if (opts.output !== undefined) writeFileSync(opts.output, text);
      else write(text);
    });
}
