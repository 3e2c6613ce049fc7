import type { AnyModule } from '../types.js';
import { assembleModule } from './assemble.js';
import { blockinfileModule } from './blockinfile.js';
import { copyModule } from './copy.js';
import { fetchModule } from './fetch.js';
import { fileModule } from './file.js';
import { findModule } from './find.js';
import { iniFileModule } from './ini_file.js';
import { lineinfileModule } from './lineinfile.js';
import { replaceModule } from './replace.js';
import { slurpModule } from './slurp.js';
import { statModule } from './stat.js';
import { tempfileModule } from './tempfile.js';
import { templateModule } from './template.js';
import { unarchiveModule } from './unarchive.js';

/** Modules of this area; each file exports one module, listed here. */
export const filesModules: AnyModule[] = [
  copyModule,
  templateModule,
  fileModule,
  statModule,
  slurpModule,
  fetchModule,
  findModule,
  lineinfileModule,
  blockinfileModule,
  replaceModule,
  assembleModule,
  tempfileModule,
  unarchiveModule,
  iniFileModule,
];
