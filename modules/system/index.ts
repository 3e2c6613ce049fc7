import type { AnyModule } from '../types.js';
import { authorizedKey } from './authorized-key.js';
import { cron } from './cron.js';
import { getent } from './getent.js';
import { group } from './group.js';
import { hostname } from './hostname.js';
import { knownHosts } from './known-hosts.js';
import { mount } from './mount.js';
import { reboot } from './reboot.js';
import { service, systemd } from './service.js';
import { sysctl } from './sysctl.js';
import { user } from './user.js';
import { waitFor } from './wait-for.js';

/** Modules of this area; each file exports one module, listed here. */
export const systemModules: AnyModule[] = [
  user,
  group,
  authorizedKey,
  cron,
  sysctl,
  hostname,
  getent,
  knownHosts,
  mount,
  waitFor,
  service,
  systemd,
  reboot,
];
