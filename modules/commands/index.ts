import type { AnyModule } from '../types.js';

/** Modules of this area; each file exports one module, listed here. */
export const commandsModules: AnyModule[] = [];
