/**
 * The state document: what infra created, versioned like Terraform's (format version, serial,
 * lineage). One entry per resource instance; `status: "creating"` marks an object whose create
 * started but whose result was not saved yet, `"deleting"` one whose destroy started (a crash
 * there leaves it for the next apply to destroy and recreate, so nothing is orphaned, lost or
 * created twice).
 */
import { randomUUID } from 'node:crypto';
import type { Attrs, AttrValue } from './provider.js';

export const STATE_FORMAT_VERSION = 1;

export interface StateInstance {
  /** Full address, e.g. `module.net.local_file.a["x"]`. */
  address: string;
  mode: 'managed' | 'data';
  type: string;
  name: string;
  /** `module.m` path prefix, or "" at the root. */
  module: string;
  index_key: number | string | null;
  attributes: Attrs;
  /** Attributes whose values are sensitive (masked in output). */
  sensitive_attributes: string[];
  /** Addresses (config-level, e.g. `local_file.a`) this instance depends on; destroy order uses them. */
  dependencies: string[];
  create_before_destroy?: boolean;
  /**
   * `creating`: create started, result unknown; `deleting`: destroy started, not confirmed;
   * `tainted`: must be replaced. The next plan destroys (again) and, if still configured, creates.
   */
  status?: 'creating' | 'deleting' | 'tainted';
  /** Set on a replaced object kept until its successor exists (create_before_destroy). */
  deposed?: string;
}

export interface StateOutput {
  value: AttrValue;
  sensitive: boolean;
}

export interface State {
  format_version: number;
  drover_version: string;
  serial: number;
  lineage: string;
  resources: StateInstance[];
  outputs: Record<string, StateOutput>;
}

export function emptyState(): State {
  return {
    format_version: STATE_FORMAT_VERSION,
    drover_version: '0.1.0',
    serial: 0,
    lineage: randomUUID(),
    resources: [],
    outputs: {},
  };
}

export class StateFormatError extends Error {}

export function parseState(text: string, where: string): State {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new StateFormatError(`${where}: state is not valid JSON: ${(e as Error).message}`);
  }
  const s = doc as Partial<State>;
  if (typeof s !== 'object' || s === null || typeof s.format_version !== 'number')
    throw new StateFormatError(`${where}: not a drover state document (no format_version)`);
  if (s.format_version > STATE_FORMAT_VERSION)
    throw new StateFormatError(
      `${where}: state format version ${s.format_version} is newer than this drover understands (${STATE_FORMAT_VERSION}); upgrade drover`,
    );
  if (typeof s.serial !== 'number' || typeof s.lineage !== 'string' || !Array.isArray(s.resources))
    throw new StateFormatError(`${where}: state lacks serial, lineage or resources`);
  return { ...s, outputs: s.outputs ?? {} } as State;
}

export function serializeState(s: State): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

/** Sort by address for stable files and listings. */
export function sortInstances(list: StateInstance[]): StateInstance[] {
  return list.sort((a, b) =>
    a.address < b.address ? -1 : a.address > b.address ? 1 : (a.deposed ?? '').localeCompare(b.deposed ?? ''),
  );
}
