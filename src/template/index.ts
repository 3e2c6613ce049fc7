export { TemplateError } from './error.js';
export { isTemplate, OMIT, Templar, type TemplarOptions, type VarLookup } from './templar.js';
