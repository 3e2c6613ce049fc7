/**
 * Every provider drover ships. Adding one: implement `Provider` (src/infra/provider.ts) and
 * add one line here.
 */
import type { Provider, ResourceType } from '../provider.js';
import { commandProvider } from './command.js';
import { inventoryProvider } from './inventory.js';
import { localProvider } from './local.js';
import { machineProvider } from './machine.js';
import { postgresqlProvider } from './postgresql.js';
import { randomProvider } from './random.js';
import { tlsProvider } from './tls.js';

export const providers: Provider[] = [
  localProvider,
  randomProvider,
  tlsProvider,
  commandProvider,
  inventoryProvider,
  machineProvider,
  postgresqlProvider,
];

/** Resource types by name; data sources under their own map (a name may be both). */
export function resourceTypes(): { managed: Map<string, ResourceType>; data: Map<string, ResourceType> } {
  const managed = new Map<string, ResourceType>();
  const data = new Map<string, ResourceType>();
  for (const p of providers)
    for (const r of p.resources) (r.schema.dataSource ? data : managed).set(r.schema.type, r);
  return { managed, data };
}
