import type { AnyModule } from '../types.js';
import { blockinfileModule } from './blockinfile.js';
import { copyModule } from './copy.js';
import { fileModule } from './file.js';
import { lineinfileModule } from './lineinfile.js';
import { replaceModule } from './replace.js';
import { slurpModule } from './slurp.js';
import { statModule } from './stat.js';
import { templateModule } from './template.js';

/** Modules of this area; each file exports one module, listed here. */
export const filesModules: AnyModule[] = [
  copyModule,
  templateModule,
  fileModule,
  statModule,
  slurpModule,
  lineinfileModule,
  blockinfileModule,
  replaceModule,
];
