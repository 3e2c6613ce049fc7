import type { AnyModule } from '../types.js';
import { getUrl } from './get-url.js';
import { git } from './git.js';
import { uri } from './uri.js';

/** Modules of this area; each file exports one module, listed here. */
export const netModules: AnyModule[] = [git, getUrl, uri];
