/**
 * Jinja's namespace(): a plain dict (it prints and iterates like one) that, alone among
 * values, accepts `{% set ns.attr = value %}`; the mark is a non-enumerable symbol.
 */
const NAMESPACE = Symbol('jinja namespace');

export function markNamespace<T extends object>(obj: T): T {
  Object.defineProperty(obj, NAMESPACE, { value: true, enumerable: false });
  return obj;
}

export function isNamespace(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[NAMESPACE] === true;
}
