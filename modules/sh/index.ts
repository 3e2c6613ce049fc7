/**
 * POSIX sh building blocks for module scripts: the answer protocol, the shared prelude of
 * sh functions, the script builder and mode-argument normalization. Stable API; other
 * module areas build on it.
 */
export { type ModeArg, normalizeMode } from './mode.js';
export { SH_PRELUDE } from './prelude.js';
export { parseReport, Report } from './protocol.js';
export { type ShScriptOptions, type ShValue, shAssign, shPath, shScript, shTilde } from './script.js';
export { parseStat, type RemoteStat } from './stat.js';
