/**
 * The contract between the infra engine (plan/apply/state) and a provider of resource types.
 * Adding a resource type means implementing `ResourceType` and registering it; the engine
 * never knows what a resource is, only its schema and these operations.
 */

/** Attribute values as stored in state: JSON data only. */
export type AttrValue = null | boolean | number | string | AttrValue[] | { [k: string]: AttrValue };
export type Attrs = Record<string, AttrValue>;

export type AttrType = 'string' | 'number' | 'bool' | 'list' | 'map' | 'any';

export interface AttrSchema {
  type: AttrType;
  description?: string;
  /** Must be set in config. */
  required?: boolean;
  /** May be set in config (arguments). Attributes neither required nor optional are computed only. */
  optional?: boolean;
  /** Set by the provider on create/read (e.g. `id`, `address`); shown as "(known after apply)" in plans. */
  computed?: boolean;
  /** Changing it cannot be done in place: the plan shows `-/+` and names this attribute. */
  forceNew?: boolean;
  /** Masked in every output (plans, show, logs, events); still stored in state, as Terraform does. */
  sensitive?: boolean;
  default?: AttrValue;
}

export interface ResourceSchema {
  /** e.g. "machine", "local_file", "postgresql_role". */
  type: string;
  description?: string;
  attributes: Record<string, AttrSchema>;
  /** Data source (`data:` block, read-only, `<=` in plans) instead of a managed resource. */
  dataSource?: boolean;
}

/** Passed to every operation: where to write, how to log, when to stop. */
export interface ProviderContext {
  /** The infra directory (holds `*.infra.yml`). */
  dir: string;
  /** Private working dir for provider-owned files (e.g. `.drover/infra/`), created on demand. */
  workDir: string;
  /** The resource address being operated on, e.g. `machine.web[0]`, for messages. */
  address: string;
  /** Human progress lines ("Still creating... [10s elapsed]" style); never secret values. */
  log(line: string): void;
  /** Aborted when the user asks to stop and in-flight work should wind down. */
  signal: AbortSignal;
}

export interface PlanDiff {
  /** Attributes whose change requires destroy + create. */
  forcesReplacement: string[];
  /** Attributes that change (in place or by replacement). */
  changed: string[];
}

export interface ResourceType {
  schema: ResourceSchema;
  /**
   * Validate config beyond the schema (cross-attribute rules). Return problems as messages
   * naming the attribute; the engine adds file:line:col.
   */
  validate?(config: Attrs): { attribute?: string; message: string }[];
  /**
   * Planned attributes for a create or an update: config plus defaults, with computed values
   * the provider can know before apply (anything unknown stays absent and shows as
   * "(known after apply)").
   */
  plan?(config: Attrs, prior: Attrs | undefined): Attrs;
  /** Create the object. Returns every attribute to store in state (config + computed). */
  create(config: Attrs, ctx: ProviderContext): Promise<Attrs>;
  /** Current attributes of the object, or undefined when it no longer exists (refresh). */
  read(state: Attrs, ctx: ProviderContext): Promise<Attrs | undefined>;
  /** Update in place; only called when no changed attribute is forceNew. Omit when every argument is forceNew. */
  update?(prior: Attrs, config: Attrs, ctx: ProviderContext): Promise<Attrs>;
  /** Delete the object; must succeed when it is already gone. */
  delete(state: Attrs, ctx: ProviderContext): Promise<void>;
  /**
   * The attributes of an existing object (`infra import ADDR ID`). `config` holds the
   * resource block's attributes that could be evaluated (connection settings, say).
   */
  import?(id: string, ctx: ProviderContext, config?: Attrs): Promise<Attrs>;
}

export interface Provider {
  name: string;
  resources: ResourceType[];
}
