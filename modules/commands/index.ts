import type { AnyModule } from '../types.js';
import { command } from './command.js';
import { ping } from './ping.js';
import { raw } from './raw.js';
import { script } from './script.js';
import { shell } from './shell.js';

/** Modules of this area; each file exports one module, listed here. */
export const commandsModules: AnyModule[] = [command, shell, raw, ping, script];
