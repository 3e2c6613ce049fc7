/**
 * The CI pipelines of examples/ci (and docs/ci.md, which shows them verbatim) must work:
 * valid YAML of the expected shape, and every drover command in them accepted by drover's
 * CLI as written, run for each environment: `lint` for real, `playbook` with `--syntax-check`
 * appended (the inventories and playbook load, every option parses), output formats known.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FORMATS } from '../../cli/outputs.js';
import { repoRoot } from '../lab/repo-root.js';
import { runDrover } from '../lab/use-fleet.js';

const root = repoRoot();
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'drover-ci-examples-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Shell words of one command line, with $VAR / ${VAR} expanded from `env` (enough for these files). */
function shellWords(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  const expand = (s: string) =>
    s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      if (!(name in env)) throw new Error(`unknown variable $${name} in: ${line}`);
      return env[name]!;
    });
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur = (cur ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const end = line.indexOf('"', i + 1);
      cur = (cur ?? '') + expand(line.slice(i + 1, end));
      i = end;
    } else if (/\s/.test(c)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else {
      let j = i;
      while (j < line.length && !/[\s'"]/.test(line[j]!)) j++;
      cur = (cur ?? '') + expand(line.slice(i, j));
      i = j - 1;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

/** The drover commands of a script: continuation lines joined, cut at `||`, `&&`, `;`, `|`, `>`. */
function droverCommands(script: string, env: Record<string, string>): string[][] {
  return script
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('drover '))
    .map((l) => shellWords(l.split(/\s(?:\|\||&&|;|\||>)\s/)[0]!, env).slice(1));
}

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
}
interface GithubJob {
  if?: string;
  needs?: string | string[];
  environment?: string;
  steps: Step[];
  strategy?: { matrix: { environment: string[] } };
}
interface GithubWorkflow {
  on: Record<string, unknown>;
  env: Record<string, string>;
  jobs: Record<string, GithubJob>;
}

async function accepted(args: string[]): Promise<void> {
  const outputs = args.flatMap((a, i) => (args[i - 1] === '--output' ? [a.split(':')[0]!] : []));
  for (const f of outputs) expect(FORMATS, `--output ${f}`).toContain(f);
  const isPlaybook = args[0] === 'playbook';
  const r = await runDrover(isPlaybook ? [...args, '--syntax-check'] : args, { timeoutMs: 60_000 });
  expect(r.code, `drover ${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
  if (isPlaybook) expect(r.stdout).toContain('playbook: playbooks/demo.yml');
  // A clean lint: no annotations in github format, the "no problems" line in human format.
  else expect(r.stdout).toBe(args.includes('github') ? '' : 'no problems found\n');
}

describe('examples/ci pipelines', () => {
  it('docs/ci.md shows both files verbatim', () => {
    const doc = read('docs/ci.md');
    for (const f of ['examples/ci/github-actions.yml', 'examples/ci/gitlab-ci.yml'])
      expect(doc, `${f} differs from its copy in docs/ci.md`).toContain(read(f));
  });

  it('GitHub Actions: dry run on pull requests, apply on push, every drover command accepted', async () => {
    const wf = parse(read('examples/ci/github-actions.yml')) as GithubWorkflow;
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push']);
    const dry = wf.jobs['dry-run']!;
    expect(dry.if).toContain("github.event_name == 'pull_request'");
    expect(dry.strategy?.matrix.environment).toEqual(['staging', 'production']);
    const dryRun = dry.steps.map((s) => s.run ?? '').join('\n');
    for (const flag of ['--check', '--diff', '--detailed-exitcode', '"github:', '"junit:', '"html:'])
      expect(dryRun).toContain(flag);
    expect(dry.steps.some((s) => s.uses?.startsWith('actions/upload-artifact'))).toBe(true);
    expect(wf.jobs['apply-staging']!.if).toContain("github.event_name == 'push'");
    expect(wf.jobs['apply-production']!.needs).toBe('apply-staging');
    expect(wf.jobs['apply-production']!.environment).toBe('production');

    writeFileSync(join(tmp, 'vault-pass'), 'not-used\n');
    let ran = 0;
    for (const job of Object.values(wf.jobs)) {
      for (const environment of job.strategy?.matrix.environment ?? ['(none)']) {
        const env = { ...wf.env, ENVIRONMENT: environment, RUNNER_TEMP: tmp };
        for (const step of job.steps) {
          for (const args of droverCommands(step.run ?? '', env)) {
            await accepted(args);
            ran++;
          }
        }
      }
    }
    // lint, dry run x2 environments, apply staging, apply production.
    expect(ran).toBe(5);
  });

  it('GitLab CI: dry run on merge requests (exit 2 is a warning), apply on the default branch', async () => {
    const ci = parse(read('examples/ci/gitlab-ci.yml')) as Record<string, Record<string, unknown>> & {
      variables: Record<string, string>;
      stages: string[];
    };
    expect(ci.stages).toEqual(['lint', 'dry-run', 'apply']);
    const dry = ci['dry-run']!;
    expect(JSON.stringify(dry.rules)).toContain('merge_request_event');
    expect(dry.allow_failure).toEqual({ exit_codes: [2] });
    expect(dry.artifacts).toMatchObject({ when: 'always', reports: { junit: 'reports/junit-*.xml' } });
    expect(dry.parallel).toEqual({ matrix: [{ ENVIRONMENT: ['staging', 'production'] }] });
    const script = (dry.script as string[]).join('\n');
    for (const flag of ['--check', '--diff', '--detailed-exitcode', '"junit:', '"html:'])
      expect(script).toContain(flag);
    expect(JSON.stringify(ci['apply-production']!.rules)).toContain('"when":"manual"');

    writeFileSync(join(tmp, '.vault-pass'), 'not-used\n');
    let ran = 0;
    for (const job of Object.values(ci)) {
      if (!Array.isArray(job.script)) continue;
      const matrix = (job.parallel as { matrix: { ENVIRONMENT: string[] }[] } | undefined)?.matrix[0]
        ?.ENVIRONMENT;
      for (const environment of matrix ?? ['(none)']) {
        const env = { ...ci.variables, ENVIRONMENT: environment, CI_PROJECT_DIR: tmp };
        for (const line of job.script as string[]) {
          for (const args of droverCommands(line, env)) {
            await accepted(args);
            ran++;
          }
        }
      }
    }
    expect(ran).toBe(5);
  });
});
