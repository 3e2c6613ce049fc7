/**
 * Human and JSON views of plans and state, as Terraform prints them. Sensitive attributes
 * print as `(sensitive value)`; every text also goes through the session's Redactor, which
 * knows the sensitive variable and attribute values, so a secret copied into another
 * attribute is masked too.
 */
import { isUnknown, UNKNOWN } from './evaluate.js';
import { countChanges, type OutputChange, type Plan, type PlannedChange } from './plan.js';
import type { AttrValue } from './provider.js';
import type { State, StateInstance } from './state.js';

export const SENSITIVE = '(sensitive value)';
export const KNOWN_AFTER_APPLY = '(known after apply)';

function fmt(v: unknown, sensitive: boolean): string {
  if (sensitive && v !== null && v !== undefined) return SENSITIVE;
  if (v === undefined || v === null) return 'null';
  if (isUnknown(v)) return KNOWN_AFTER_APPLY;
  if (typeof v === 'string')
    return v.includes('\n') ? `<<-EOT\n${v.replace(/\n$/, '')}\nEOT` : JSON.stringify(v);
  return JSON.stringify(v);
}

function indentMulti(s: string, pad: string): string {
  return s.replaceAll('\n', `\n${pad}`);
}

const SYMBOL: Record<string, string> = { create: '+', update: '~', replace: '-/+', delete: '-', read: '<=' };

function header(c: PlannedChange): string {
  const why = c.reason ? ` (${c.reason})` : '';
  switch (c.action) {
    case 'create':
      return `  # ${c.address} will be created`;
    case 'update':
      return `  # ${c.address} will be updated in-place`;
    case 'replace':
      return `  # ${c.address} must be replaced${why}`;
    case 'delete':
      return `  # ${c.address}${c.prior?.deposed ? ` (deposed object ${c.prior.deposed})` : ''} will be destroyed${why}`;
    case 'read':
      return `  # ${c.mode === 'data' ? 'data.' : ''}${c.address.replace(/^data\./, '')} will be read during apply${why}`;
    default:
      return `  # ${c.address}`;
  }
}

export function renderChange(c: PlannedChange): string {
  const sym = SYMBOL[c.action] ?? ' ';
  const kw = c.mode === 'data' ? 'data' : 'resource';
  const lines = [header(c), `${sym.padStart(3)} ${kw} "${c.type}" "${c.name}" {`];
  const sens = new Set(c.sensitive);
  const keys = new Set<string>([...Object.keys(c.before ?? {}), ...Object.keys(c.after ?? {})]);
  const sorted = [...keys].sort();
  const width = Math.max(0, ...sorted.map((k) => k.length));
  let hidden = 0;
  for (const k of sorted) {
    const b = c.before?.[k];
    const a = c.after?.[k];
    const name = k.padEnd(width);
    const s = sens.has(k);
    const pad = '        ';
    if (c.action === 'create' || c.action === 'read') {
      if (a === null || a === undefined) continue;
      lines.push(`      + ${name} = ${indentMulti(fmt(a, s), pad)}`);
    } else if (c.action === 'delete') {
      if (b === null || b === undefined) continue;
      lines.push(`      - ${name} = ${indentMulti(fmt(b, s), pad)}`);
    } else {
      const same = JSON.stringify(b ?? null) === JSON.stringify(a ?? null) && !isUnknown(a);
      if (same) {
        hidden++;
        continue;
      }
      const force = c.forcedBy.includes(k) ? ' # forces replacement' : '';
      if (b === undefined || b === null)
        lines.push(`      + ${name} = ${indentMulti(fmt(a, s), pad)}${force}`);
      else if (a === undefined || a === null)
        lines.push(`      - ${name} = ${indentMulti(fmt(b, s), pad)} -> null${force}`);
      else
        lines.push(
          `      ~ ${name} = ${indentMulti(fmt(b, s), pad)} -> ${indentMulti(fmt(a, s), pad)}${force}`,
        );
    }
  }
  if (hidden > 0) lines.push(`        # (${hidden} unchanged attribute${hidden === 1 ? '' : 's'} hidden)`);
  lines.push('    }');
  return lines.join('\n');
}

function renderOutput(o: OutputChange, width: number): string {
  const name = o.name.padEnd(width);
  const v = (x: AttrValue | undefined) => (o.sensitive ? SENSITIVE : fmt(x, false));
  if (o.action === 'create') return `  + ${name} = ${v(o.after)}`;
  if (o.action === 'delete') return `  - ${name} = ${v(o.before)} -> null`;
  return `  ~ ${name} = ${v(o.before)} -> ${v(o.after)}`;
}

export function renderPlan(plan: Plan): string {
  const out: string[] = [];
  if (plan.drift.length > 0) {
    out.push('Note: Objects have changed outside of drover\n');
    for (const d of plan.drift)
      out.push(`  # ${d.address} has ${d.what === 'deleted' ? 'been deleted' : 'changed'}`);
    out.push('');
  }
  const visible = plan.changes.filter((c) => c.action !== 'noop');
  const outputs = plan.outputs.filter((o) => o.action !== 'noop');
  if (plan.refreshOnly) {
    if (plan.drift.length === 0 && outputs.length === 0) {
      out.push('No changes. Your infrastructure still matches the configuration.');
      return `${out.join('\n')}\n`;
    }
    out.push(
      'This is a refresh-only plan: applying it updates the state to match the objects found, changing no object.',
    );
    return `${out.join('\n')}\n`;
  }
  if (visible.length === 0 && outputs.length === 0) {
    out.push('No changes. Your infrastructure matches the configuration.');
    return `${out.join('\n')}\n`;
  }
  if (visible.length > 0) {
    const used = new Set(visible.map((c) => c.action));
    out.push(
      'drover will perform the following actions. Resource actions are indicated with the following symbols:',
    );
    if (used.has('create')) out.push('  + create');
    if (used.has('update')) out.push('  ~ update in-place');
    if (used.has('delete')) out.push('  - destroy');
    if (used.has('replace')) out.push('-/+ destroy and then create replacement');
    if (used.has('read')) out.push(' <= read (data resources)');
    out.push('');
    for (const c of visible.sort(byAddress)) out.push(renderChange(c), '');
  }
  const n = countChanges(plan);
  out.push(`Plan: ${n.add} to add, ${n.change} to change, ${n.destroy} to destroy.`);
  if (outputs.length > 0) {
    const w = Math.max(...outputs.map((o) => o.name.length));
    out.push('', 'Changes to Outputs:', ...outputs.map((o) => renderOutput(o, w)));
  }
  return `${out.join('\n')}\n`;
}

function byAddress(a: PlannedChange, b: PlannedChange): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

/** Attributes with sensitive ones replaced (for JSON output). */
export function maskAttrs(
  attrs: Record<string, AttrValue> | undefined,
  sensitive: string[],
): Record<string, AttrValue> | null {
  if (!attrs) return null;
  const s = new Set(sensitive);
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(attrs))
    out[k] = s.has(k) && v !== null ? SENSITIVE : isUnknown(v) ? null : v;
  return out;
}

function unknownKeys(attrs: Record<string, AttrValue> | undefined): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) if (isUnknown(v)) out[k] = true;
  return out;
}

const JSON_ACTIONS: Record<string, string[]> = {
  create: ['create'],
  update: ['update'],
  delete: ['delete'],
  read: ['read'],
  noop: ['no-op'],
};

export function planJson(plan: Plan, state: State): unknown {
  return {
    format_version: '1.0',
    lineage: state.lineage,
    serial: state.serial,
    resource_changes: plan.changes.map((c) => ({
      address: c.address,
      ...(c.module ? { module_address: c.module } : {}),
      mode: c.mode,
      type: c.type,
      name: c.name,
      ...(c.indexKey !== null ? { index: c.indexKey } : {}),
      ...(c.prior?.deposed ? { deposed: c.prior.deposed } : {}),
      change: {
        actions:
          c.action === 'replace'
            ? c.createBeforeDestroy
              ? ['create', 'delete']
              : ['delete', 'create']
            : JSON_ACTIONS[c.action],
        before: maskAttrs(c.before, c.sensitive),
        after: maskAttrs(c.after, c.sensitive),
        after_unknown: unknownKeys(c.after),
        replace_paths: c.forcedBy.map((k) => [k]),
      },
      ...(c.reason ? { action_reason: c.reason } : {}),
    })),
    output_changes: Object.fromEntries(
      plan.outputs.map((o) => [
        o.name,
        {
          actions: o.action === 'noop' ? ['no-op'] : [o.action],
          before: o.sensitive && o.before !== undefined ? SENSITIVE : (o.before ?? null),
          after:
            o.sensitive && o.after !== undefined ? SENSITIVE : isUnknown(o.after) ? null : (o.after ?? null),
          after_unknown: isUnknown(o.after),
          sensitive: o.sensitive,
        },
      ]),
    ),
    summary: countChanges(plan),
  };
}

export function stateJson(state: State): unknown {
  return {
    format_version: '1.0',
    lineage: state.lineage,
    serial: state.serial,
    values: {
      outputs: Object.fromEntries(
        Object.entries(state.outputs).map(([k, o]) => [
          k,
          { value: o.sensitive ? SENSITIVE : o.value, sensitive: o.sensitive },
        ]),
      ),
      resources: state.resources.map((i) => ({
        address: i.address,
        mode: i.mode,
        type: i.type,
        name: i.name,
        ...(i.index_key !== null ? { index: i.index_key } : {}),
        ...(i.module ? { module_address: i.module } : {}),
        ...(i.status ? { status: i.status } : {}),
        ...(i.deposed ? { deposed: i.deposed } : {}),
        values: maskAttrs(i.attributes, i.sensitive_attributes),
        depends_on: i.dependencies,
      })),
    },
  };
}

/** `drover infra state show ADDR` / `infra show`: one instance as HCL-like text. */
export function renderInstance(i: StateInstance): string {
  const kw = i.mode === 'data' ? 'data' : 'resource';
  const lines = [
    `# ${i.address}:${i.status ? ` (${i.status})` : ''}${i.deposed ? ` (deposed ${i.deposed})` : ''}`,
    `${kw} "${i.type}" "${i.name}" {`,
  ];
  const keys = Object.keys(i.attributes).sort();
  const w = Math.max(0, ...keys.map((k) => k.length));
  const s = new Set(i.sensitive_attributes);
  for (const k of keys) {
    const v = i.attributes[k];
    if (v === null || v === undefined) continue;
    lines.push(`    ${k.padEnd(w)} = ${indentMulti(fmt(v, s.has(k)), '    ')}`);
  }
  lines.push('}');
  return lines.join('\n');
}

export function renderOutputs(state: State, name?: string, raw = false): string {
  if (name !== undefined) {
    const o = state.outputs[name];
    if (!o) throw new Error(`output '${name}' not found`);
    if (raw && typeof o.value === 'string') return o.value;
    return o.sensitive && !raw ? SENSITIVE : fmt(o.value, false);
  }
  const names = Object.keys(state.outputs).sort();
  const w = Math.max(0, ...names.map((n) => n.length));
  return names
    .map((n) => `${n.padEnd(w)} = ${fmt(state.outputs[n]!.value, state.outputs[n]!.sensitive)}`)
    .join('\n');
}

export { UNKNOWN };
