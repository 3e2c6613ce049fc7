/**
 * Ansible's AnsibleUndefined: a value standing for a missing variable or attribute. Attribute
 * access on it yields itself (so `foo.bar | default(1)` works when foo is undefined), while
 * printing, iterating, comparing or testing its truth fails with the name of what is missing.
 */
export class Undefined {
  /** The variable name when a top-level variable is missing. */
  readonly name: string | undefined;
  readonly message: string;
  constructor(message: string, name?: string) {
    this.message = message;
    this.name = name;
  }
  static variable(name: string): Undefined {
    return new Undefined(`'${name}' is undefined`, name);
  }
  fail(): never {
    throw new UndefinedError(this.message, this.name);
  }
  toString(): string {
    return this.fail();
  }
}

/** Thrown when an undefined value is used; the Templar turns it into a TemplateError. */
export class UndefinedError extends Error {
  readonly undefinedName: string | undefined;
  constructor(message: string, name?: string) {
    super(message);
    this.name = 'UndefinedError';
    this.undefinedName = name;
  }
}

export function isUndefined(v: unknown): v is Undefined {
  return v instanceof Undefined;
}
