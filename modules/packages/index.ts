import type { AnyModule } from '../types.js';
import { apk } from './apk.js';
import { apt } from './apt.js';
import { aptKey } from './apt-key.js';
import { aptRepository } from './apt-repository.js';
import { packageModule } from './package.js';
import { pip } from './pip.js';
import { dnf, yum } from './rpm.js';

/** Modules of this area; each file exports one module, listed here. */
export const packagesModules: AnyModule[] = [packageModule, apt, aptRepository, aptKey, dnf, yum, apk, pip];
