import type { AnyModule } from '../types.js';
import { copyModule } from './copy.js';

/** Modules of this area; each file exports one module, listed here. */
export const filesModules: AnyModule[] = [copyModule];
