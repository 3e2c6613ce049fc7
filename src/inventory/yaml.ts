/**
 * YAML (and JSON) inventories as Ansible's `yaml` plugin reads them: top-level keys are
 * groups, each with optional `hosts`, `children`, `vars`; host keys may carry ranges and
 * ports. Non-mapping entries are skipped with Ansible's warnings.
 */
import { isMap, isScalar, type Node, visit } from 'yaml';
import type { Problem, SourcePos } from '../errors.js';
import { type LoadedYaml, loadYaml, posOf } from '../yaml/load.js';
import { AddressError, expandHostPattern, HostRangeError } from './address.js';
import { type InventoryData, InventoryGraphError } from './data.js';

export interface YamlParseResult {
  problems: Problem[];
  warnings: string[];
  /** False when the text is not a YAML inventory at all (so another format may be tried). */
  isInventory: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
  );
}

/** Key → value node of a YAML mapping node, built once per map (lookups stay O(1)). */
function entryNodes(node: Node | null | undefined): Map<string, { key: Node; value: Node | null }> {
  const out = new Map<string, { key: Node; value: Node | null }>();
  if (!isMap(node)) return out;
  for (const pair of node.items) {
    const k = pair.key as Node;
    if (isScalar(k)) out.set(String(k.value), { key: k, value: (pair.value as Node | null) ?? null });
  }
  return out;
}

/** Ansible's warning for each repeated key in a mapping (PyYAML keeps the last value, so do we). */
export function duplicateKeyWarnings(loaded: LoadedYaml): string[] {
  const out: string[] = [];
  for (const root of loaded.nodes) {
    if (!root) continue;
    visit(root, {
      Map(_, map) {
        const seen = new Set<string>();
        for (const pair of map.items) {
          const k = pair.key;
          if (!isScalar(k)) continue;
          const key = String(k.value);
          if (seen.has(key)) {
            const p = posOf(map as Node, loaded);
            out.push(
              `While constructing a mapping from ${loaded.file}, line ${p.line}, column ${p.col}, found a duplicate dict key (${key}). Using last defined value only.`,
            );
          }
          seen.add(key);
        }
      },
    });
  }
  return out;
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'None';
  return typeof v === 'string' ? 'str' : typeof v === 'number' ? 'number' : typeof v;
}

export function parseYamlInventory(
  inv: InventoryData,
  text: string,
  file: string,
  decryptVault?: (ciphertext: string, where: string) => string,
): YamlParseResult {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const loaded: LoadedYaml = loadYaml(text, file, decryptVault ? { decryptVault } : {});
  if (loaded.problems.length > 0) return { problems: loaded.problems, warnings, isInventory: false };
  warnings.push(...duplicateKeyWarnings(loaded));
  const data = loaded.docs[0];
  const root = loaded.nodes[0];
  const at = (node: Node | null | undefined): SourcePos => posOf(node ?? root, loaded);
  if (data === undefined || data === null || (isPlainObject(data) && Object.keys(data).length === 0)) {
    problems.push({
      message: 'parsed an empty YAML file',
      pos: { file, line: 1, col: 1 },
      severity: 'error',
    });
    return { problems, warnings, isInventory: false };
  }
  if (!isPlainObject(data)) {
    problems.push({
      message: `YAML inventory has invalid structure, it should be a dictionary, got: ${typeName(data)}`,
      pos: at(root),
      severity: 'error',
    });
    return { problems, warnings, isInventory: false };
  }
  if (data.plugin) {
    problems.push({
      message: 'this is an inventory plugin configuration file, which drover does not run',
      pos: at(entryNodes(root).get('plugin')?.key),
      severity: 'error',
      hint: 'export the plugin output with `ansible-inventory -i FILE --list` and use that JSON as a source',
    });
    return { problems, warnings, isInventory: true };
  }
  const fail = (message: string, node: Node | null | undefined): void => {
    problems.push({ message, pos: at(node), severity: 'error' });
  };

  const parseGroup = (
    name: string,
    gdata: unknown,
    node: Node | null | undefined,
    keyNode: Node | undefined,
  ): string => {
    if (!(gdata === null || gdata === undefined || isPlainObject(gdata))) {
      warnings.push(`Skipping '${name}' as this is not a valid group definition`);
      return name;
    }
    try {
      inv.addGroup(name);
    } catch (e) {
      fail(`unable to add group ${name}: ${(e as Error).message}`, keyNode);
      return name;
    }
    if (!gdata) return name;
    const nodes = entryNodes(node);
    for (const section of ['vars', 'children', 'hosts']) {
      if (section in gdata) {
        if (typeof gdata[section] === 'string') gdata[section] = { [gdata[section] as string]: null };
        const v = gdata[section];
        if (!(v === null || isPlainObject(v))) {
          fail(
            `invalid "${section}" entry for "${name}" group, requires a dictionary, found "${typeName(v)}" instead`,
            nodes.get(section)?.value,
          );
          return name;
        }
      }
    }
    for (const [key, value] of Object.entries(gdata)) {
      const entry = nodes.get(key);
      if (!(value === null || isPlainObject(value))) {
        warnings.push(
          `Skipping key (${key}) in group (${name}) as it is not a mapping, it is a ${typeName(value)}`,
        );
        continue;
      }
      if (value === null) continue;
      if (key === 'vars') {
        for (const [k, v] of Object.entries(value)) {
          try {
            inv.setVariable(name, k, v);
          } catch (e) {
            fail((e as Error).message, entryNodes(entry?.value).get(k)?.value);
          }
        }
      } else if (key === 'children') {
        const kids = entryNodes(entry?.value);
        for (const [sub, subdata] of Object.entries(value)) {
          const kid = kids.get(sub);
          parseGroup(sub, subdata, kid?.value, kid?.key);
          try {
            if (inv.groups.has(sub)) inv.addChild(name, sub);
          } catch (e) {
            if (e instanceof InventoryGraphError) fail(e.message, kid?.key);
            else throw e;
          }
        }
      } else if (key === 'hosts') {
        const hostNodes = entryNodes(entry?.value);
        for (const [pattern, hvars] of Object.entries(value)) {
          const hn = hostNodes.get(pattern);
          if (hn && isScalar(hn.key) && typeof hn.key.value !== 'string') {
            fail(
              `host pattern ${pattern} must be a string; enclose integers/floats in quotation marks`,
              hn.key,
            );
            continue;
          }
          let expanded: { hosts: string[]; port?: number };
          try {
            expanded = expandHostPattern(pattern);
          } catch (e) {
            if (e instanceof HostRangeError || e instanceof AddressError) {
              fail(`bad host range '${pattern}': ${e.message}`, hn?.key);
              continue;
            }
            throw e;
          }
          const vars = hvars ?? {};
          if (!isPlainObject(vars)) {
            fail(
              `invalid data for host ${pattern}: expected a dictionary of variables, got ${typeName(vars)}`,
              hn?.value,
            );
            continue;
          }
          for (const h of expanded.hosts) {
            inv.addHost(h, name, expanded.port);
            for (const [k, v] of Object.entries(vars)) inv.setVariable(h, k, v);
          }
        }
      } else {
        warnings.push(
          `Skipping unexpected key (${key}) in group (${name}), only "vars", "children" and "hosts" are valid`,
        );
      }
    }
    return name;
  };

  const top = entryNodes(root);
  for (const [name, gdata] of Object.entries(data)) {
    const e = top.get(name);
    parseGroup(name, gdata, e?.value, e?.key);
  }
  return { problems, warnings, isInventory: true };
}
