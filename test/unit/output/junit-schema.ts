/** Validates JUnit XML against the vendored Jenkins schema with xmllint (Debian libxml2-utils). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const JUNIT_XSD = join(import.meta.dirname, '..', '..', 'fixtures', 'junit', 'jenkins-junit.xsd');

export interface Validation {
  valid: boolean;
  /** xmllint's messages (it reports on stderr). */
  output: string;
}

export function validateJUnit(xml: string): Validation {
  const r = spawnSync('xmllint', ['--noout', '--schema', JUNIT_XSD, '-'], { input: xml, encoding: 'utf8' });
  if (r.error)
    throw new Error(`xmllint must be installed (.ci/run installs libxml2-utils): ${r.error.message}`);
  return { valid: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
