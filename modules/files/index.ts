import type { AnyModule } from '../types.js';
import { copyModule } from './copy.js';
import { fileModule } from './file.js';
import { slurpModule } from './slurp.js';
import { statModule } from './stat.js';
import { templateModule } from './template.js';

/** Modules of this area; each file exports one module, listed here. */
export const filesModules: AnyModule[] = [copyModule, templateModule, fileModule, statModule, slurpModule];
