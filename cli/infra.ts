/**
 * `drover infra`: Terraform's lifecycle over a directory of `*.infra.yml` files. Terraform's
 * single-dash long flags (`-auto-approve`, `-var=x=1`, `-chdir=DIR`) are accepted and turned
 * into double-dash ones here, before commander sees them. Every error exits 1, as Terraform.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, CommanderError } from 'commander';
import { DroverError, formatProblem, ValidationError } from '../src/errors.js';
import { configAddress, hasChanges, type Plan, type PlanOptions } from '../src/infra/plan.js';
import { planJson, renderInstance, renderOutputs, renderPlan, stateJson } from '../src/infra/render.js';
import { formatLockInfo, InfraError, InfraSession, type SessionOptions } from '../src/infra/session.js';
import type { State } from '../src/infra/state.js';
import { interruptible } from './signals.js';

/** Flags that take a value, for `-flag value` and `-flag=value` spellings. */
const LONG_FLAGS = new Set([
  'auto-approve',
  'target',
  'replace',
  'var',
  'var-file',
  'refresh-only',
  'refresh',
  'out',
  'json',
  'detailed-exitcode',
  'parallelism',
  'lock-timeout',
  'lock',
  'chdir',
  'destroy',
  'raw',
  'force',
  'no-color',
  'input',
  'help',
  'state',
  'dry-run',
]);

/** `-auto-approve` -> `--auto-approve`, `-var=a=b` -> `--var=a=b`; `-lock=false` -> `--no-lock`. */
export function normaliseInfraArgv(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    let x = a;
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    if (m && LONG_FLAGS.has(m[1]!)) x = `--${m[1]}${m[2] ?? ''}`;
    if (x === '--lock=false') x = '--no-lock';
    else if (x === '--lock=true') x = '--lock';
    else if (x === '--refresh=false') x = '--no-refresh';
    else if (x === '--refresh=true') x = '--refresh';
    else if (x === '--input=false' || x === '--input=true' || x === '--no-color') continue;
    out.push(x);
  }
  return out;
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new InfraError(`invalid duration '${s}'`, 'use e.g. 30s, 2m, 500ms');
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 's']!;
}

interface CommonOpts {
  var?: string[];
  varFile?: string[];
  lock?: boolean;
  lockTimeout?: string;
  parallelism?: string;
  target?: string[];
  replace?: string[];
  refreshOnly?: boolean;
  refresh?: boolean;
  destroy?: boolean;
  out?: string;
  autoApprove?: boolean;
  detailedExitcode?: boolean;
  json?: boolean;
  raw?: boolean;
  force?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function addPlanOptions(c: Command, withApprove: boolean): Command {
  c.option('--var <NAME=VALUE>', 'set a root variable (repeatable)', collect)
    .option('--var-file <file>', 'read variable values from a YAML/JSON file (repeatable)', collect)
    .option(
      '--target <address>',
      'limit the operation to this resource and what it depends on (repeatable)',
      collect,
    )
    .option(
      '--replace <address>',
      'plan to replace this resource instance even if unchanged (repeatable)',
      collect,
    )
    .option('--refresh-only', 'only update the state to match the real objects')
    .option('--no-refresh', 'skip reading the real objects before planning')
    .option('--parallelism <n>', 'concurrent operations', '10')
    .option('--lock-timeout <duration>', 'wait this long for the state lock (e.g. 30s)', '0s')
    .option('--no-lock', 'do not take the state lock (dangerous)');
  if (withApprove) c.option('--auto-approve', 'skip the interactive approval');
  return c;
}

export interface InfraCommandDeps {
  write?: (text: string) => void;
  writeErr?: (text: string) => void;
  /** Reads one line of approval; undefined when no terminal. */
  ask?: (prompt: string) => Promise<string | undefined>;
}

function defaultAsk(prompt: string): Promise<string | undefined> {
  if (!process.stdin.isTTY) return Promise.resolve(undefined);
  return new Promise((res) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    rl.question(prompt, (answer) => {
      rl.close();
      res(answer);
    });
  });
}

interface SavedPlan {
  drover_plan: 1;
  lineage: string;
  serial: number;
  config_digest: string;
  variables: Record<string, unknown>;
  options: PlanOptions;
  refreshed_state: State;
  actions: string[];
}

function actionsOf(plan: Plan): string[] {
  return plan.changes
    .filter((c) => c.action !== 'noop')
    .map((c) => `${c.action} ${c.address}${c.prior?.deposed ? ` ${c.prior.deposed}` : ''}`)
    .sort();
}

export function infraCommand(deps: InfraCommandDeps = {}): Command {
  const cmd = new Command('infra')
    .description('plan and apply infrastructure from *.infra.yml files (Terraform-style)')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await runInfra(args, deps);
    });
  return cmd;
}

/** Runs one `drover infra ...` command line; returns the exit code. */
export async function runInfra(rawArgs: string[], deps: InfraCommandDeps = {}): Promise<number> {
  const write = deps.write ?? ((t: string) => process.stdout.write(t));
  const writeErr = deps.writeErr ?? ((t: string) => process.stderr.write(t));
  const ask = deps.ask ?? defaultAsk;
  let args = normaliseInfraArgv(rawArgs);
  let chdir: string | undefined;
  while (args[0]?.startsWith('--chdir')) {
    if (args[0].includes('=')) chdir = args[0].slice(args[0].indexOf('=') + 1);
    else {
      chdir = args[1];
      args = args.slice(1);
    }
    args = args.slice(1);
  }
  let code = 0;
  let session: InfraSession | undefined;
  const redact = (s: string) => (session ? session.redact(s) : s);
  const out = (s: string) => write(redact(s));
  const dirOf = (d: string | undefined) => resolve(chdir ?? '.', d ?? '.');
  const sessionOpts = (dir: string | undefined, o: CommonOpts, signal?: AbortSignal): SessionOptions => ({
    dir: dirOf(dir),
    vars: o.var ?? [],
    varFiles: (o.varFile ?? []).map((f) => resolve(chdir ?? '.', f)),
    lock: o.lock !== false,
    lockTimeoutMs: parseDuration(o.lockTimeout ?? '0s'),
    parallelism: Math.max(1, Number.parseInt(o.parallelism ?? '10', 10) || 10),
    log: (l) => out(`${l}\n`),
    ...(signal ? { signal } : {}),
  });
  const open = async (opts: SessionOptions) => {
    session = await InfraSession.open(opts);
    return session;
  };

  const planFlow = async (
    s: InfraSession,
    o: CommonOpts,
    mode: 'plan' | 'apply',
    destroy: boolean,
  ): Promise<number> => {
    await s.lock(destroy ? 'destroy' : mode);
    try {
      let state = await s.readState();
      const base = state;
      let drift: Plan['drift'] = [];
      if (o.refresh !== false && state.resources.length > 0) {
        if (!o.refreshOnly) out('Refreshing state...\n');
        ({ state, drift } = await s.refresh(state));
      }
      const popts: PlanOptions = {
        targets: o.target ?? [],
        replace: o.replace ?? [],
        destroy,
        refreshOnly: o.refreshOnly === true,
      };
      const plan = await s.plan(state, { ...popts, drift });
      out(`\n${renderPlan(plan)}`);
      if (popts.targets.length > 0)
        out(
          '\nWarning: Resource targeting is in effect\n\n  The plan may be incomplete: changes to other resources, including ones the\n  targets would affect, are left out. Use -target for exceptional situations only.\n',
        );
      const changes = hasChanges(plan);
      if (mode === 'plan') {
        if (o.out) {
          const saved: SavedPlan = {
            drover_plan: 1,
            lineage: base.lineage,
            serial: base.serial,
            config_digest: s.configDigest(),
            variables: s.variables,
            options: popts,
            refreshed_state: state,
            actions: actionsOf(plan),
          };
          writeFileSync(resolve(chdir ?? '.', o.out), `${JSON.stringify(saved)}\n`, { mode: 0o600 });
          out(
            `\nSaved the plan to: ${o.out}\n\nTo perform exactly these actions, run:\n  drover infra apply ${o.out}\n`,
          );
        }
        return o.detailedExitcode && changes ? 2 : 0;
      }
      if (!changes) {
        if (plan.refreshOnly && drift.length === 0) return 0;
        if (!plan.refreshOnly) {
          // Nothing to change, but what refresh read is kept (as Terraform does).
          if (drift.length > 0) await s.writeState(state);
          out('\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.\n');
          return 0;
        }
      }
      if (!o.autoApprove) {
        const answer = await ask(
          `\nDo you want to ${destroy ? 'really destroy all resources' : 'perform these actions'}?\n  drover will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `,
        );
        if (answer === undefined)
          throw new InfraError(
            'cannot ask for approval: no terminal (stdin is not a TTY)',
            `review the plan, then run again with -auto-approve, or save it with 'drover infra plan -out=FILE' and 'drover infra apply FILE'`,
          );
        if (answer.trim() !== 'yes') {
          writeErr(`\n${destroy ? 'Destroy' : 'Apply'} cancelled.\n`);
          return 1;
        }
      }
      return await applyFlow(s, plan, state);
    } finally {
      await s.unlock();
    }
  };

  const applyFlow = async (s: InfraSession, plan: Plan, state: State): Promise<number> => {
    if (plan.refreshOnly) {
      await s.writeState(state);
      out('\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.\n');
      return 0;
    }
    out('\n');
    const r = await s.apply(plan, state);
    for (const e of r.errors) writeErr(redact(`\nError: ${e.address}: ${e.message}\n`));
    if (r.interrupted) {
      writeErr(
        '\nInterrupted: operations in progress finished and the state was saved; what did not run is still pending.\n',
      );
      return 1;
    }
    if (r.errors.length > 0) {
      const n = r.counts;
      writeErr(
        `\n${plan.destroy ? 'Destroy' : 'Apply'} failed: ${n.added} added, ${n.changed} changed, ${n.destroyed} destroyed before the failure; everything created is in the state. Fix the error and apply again.\n`,
      );
      return 1;
    }
    const n = r.counts;
    if (plan.destroy) out(`\nDestroy complete! Resources: ${n.destroyed} destroyed.\n`);
    else
      out(`\nApply complete! Resources: ${n.added} added, ${n.changed} changed, ${n.destroyed} destroyed.\n`);
    if (!plan.destroy && Object.keys(r.state.outputs).length > 0)
      out(`\nOutputs:\n\n${renderOutputs(r.state)}\n`);
    return 0;
  };

  const program = new Command('drover infra')
    .exitOverride()
    .configureOutput({ writeOut: (s) => write(s), writeErr: (s) => writeErr(s) })
    .showSuggestionAfterError(true)
    .description(
      'Terraform-style infrastructure: plan, apply and destroy *.infra.yml configuration.\nGlobal option: -chdir=DIR (before the subcommand).',
    );

  program
    .command('init [dir]')
    .description('prepare the working directory and the state backend')
    .action(async (dir?: string) => {
      const s = await open({ dir: dirOf(dir), noVars: true });
      await s.backend.init();
      out(
        `Initializing the backend: ${s.backend.description}\n\ndrover infra has been successfully initialized!\n`,
      );
    });

  program
    .command('validate [dir]')
    .description('check the configuration (all problems at once, with file:line:col)')
    .option('--json', 'machine-readable result')
    .action(async (dir: string | undefined, o: CommonOpts) => {
      try {
        await open({ dir: dirOf(dir), noVars: true });
        out(
          o.json
            ? `${JSON.stringify({ valid: true, error_count: 0, diagnostics: [] })}\n`
            : 'Success! The configuration is valid.\n',
        );
      } catch (e) {
        if (o.json && e instanceof ValidationError) {
          out(
            `${JSON.stringify({ valid: false, error_count: e.problems.length, diagnostics: e.problems })}\n`,
          );
          code = 1;
          return;
        }
        throw e;
      }
    });

  addPlanOptions(program.command('plan [dir]').description('show what apply would do'), false)
    .option('--out <file>', 'save the plan; `apply FILE` performs exactly it')
    .option('--destroy', 'plan to destroy everything')
    .option('--detailed-exitcode', 'exit 0 when no changes, 1 on error, 2 when there are changes')
    .action(async (dir: string | undefined, o: CommonOpts) => {
      const s = await open(sessionOpts(dir, o));
      code = await planFlow(s, o, 'plan', o.destroy === true);
    });

  const applyLike = (name: string, destroy: boolean, refreshOnly = false) =>
    addPlanOptions(program.command(`${name} [dir-or-plan]`), true).action(
      async (target: string | undefined, o: CommonOpts) => {
        const intr = interruptible(async () => {});
        try {
          if (refreshOnly) {
            o.refreshOnly = true;
            o.autoApprove = true;
          }
          const path = target ? resolve(chdir ?? '.', target) : undefined;
          if (path && existsSync(path) && statSync(path).isFile()) {
            code = await applySaved(path, o, intr.signal);
            return;
          }
          const s = await open(sessionOpts(target, o, intr.signal));
          code = await planFlow(s, o, 'apply', destroy);
        } finally {
          intr.dispose();
        }
      },
    );
  applyLike('apply', false).description(
    'create, update and destroy objects to match the configuration (or apply a saved plan)',
  );
  applyLike('destroy', true).description('destroy every object in the state');
  applyLike('refresh', false, true).description(
    'update the state to match the real objects (apply -refresh-only -auto-approve)',
  );

  const applySaved = async (file: string, o: CommonOpts, signal: AbortSignal): Promise<number> => {
    let saved: SavedPlan;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as SavedPlan;
      if (saved.drover_plan !== 1) throw new Error('not a drover plan file');
    } catch (e) {
      throw new InfraError(`cannot read the saved plan ${file}: ${(e as Error).message}`);
    }
    const s = await open({ ...sessionOpts(undefined, o, signal), presetVars: saved.variables });
    await s.lock('apply');
    try {
      const now = await s.readState();
      // A plan made before any state existed carries the lineage the new state gets.
      if (now.serial === 0 && saved.serial === 0 && now.resources.length === 0) now.lineage = saved.lineage;
      if (now.lineage !== saved.lineage || now.serial !== saved.serial)
        throw new InfraError(
          `Saved plan is stale: the state changed since the plan was made (${now.lineage !== saved.lineage ? 'a different lineage' : `serial ${saved.serial} -> ${now.serial}`})`,
          'make a new plan with drover infra plan -out=FILE',
        );
      if (s.configDigest() !== saved.config_digest)
        throw new InfraError(
          'Saved plan is stale: the configuration changed since the plan was made',
          'make a new plan with drover infra plan -out=FILE',
        );
      const state = { ...saved.refreshed_state, lineage: now.lineage, serial: now.serial };
      s.registerSecrets(state);
      const plan = await s.plan(state, saved.options);
      if (JSON.stringify(actionsOf(plan)) !== JSON.stringify(saved.actions))
        throw new InfraError('the saved plan no longer matches what would be done', 'make a new plan');
      return await applyFlow(s, plan, state);
    } finally {
      await s.unlock();
    }
  };

  program
    .command('show [path]')
    .description('show the state, or a saved plan')
    .option('--json', 'machine-readable (sensitive values masked)')
    .action(async (path: string | undefined, o: CommonOpts) => {
      const p = path ? resolve(chdir ?? '.', path) : undefined;
      if (p && existsSync(p) && statSync(p).isFile()) {
        const saved = JSON.parse(readFileSync(p, 'utf8')) as SavedPlan;
        const s = await open({ dir: dirOf(undefined), presetVars: saved.variables });
        s.registerSecrets(saved.refreshed_state);
        const plan = await s.plan(saved.refreshed_state, saved.options);
        out(
          o.json ? `${JSON.stringify(planJson(plan, saved.refreshed_state), null, 2)}\n` : renderPlan(plan),
        );
        return;
      }
      const s = await open({ dir: dirOf(path), noVars: true });
      const state = await s.readState();
      if (o.json) {
        out(`${JSON.stringify(stateJson(state), null, 2)}\n`);
        return;
      }
      if (state.resources.length === 0 && Object.keys(state.outputs).length === 0) {
        out('The state is empty. No resources are represented.\n');
        return;
      }
      out(`${state.resources.map(renderInstance).join('\n\n')}\n`);
      if (Object.keys(state.outputs).length > 0) out(`\nOutputs:\n\n${renderOutputs(state)}\n`);
    });

  program
    .command('output [name]')
    .description('print output values from the state (sensitive ones masked, except with -raw NAME)')
    .option('--json', 'JSON (sensitive values masked)')
    .option('--raw', 'the plain string value of one output (for scripts; not masked)')
    .action(async (name: string | undefined, o: CommonOpts) => {
      const s = await open({ dir: dirOf(undefined), noVars: true });
      const state = await s.readState();
      if (name !== undefined && !state.outputs[name])
        throw new InfraError(
          `output '${name}' not found`,
          `outputs in the state: ${Object.keys(state.outputs).join(', ') || 'none (run apply first)'}`,
        );
      if (o.json) {
        const view = Object.fromEntries(
          Object.entries(state.outputs).map(([k, v]) => [
            k,
            { value: v.sensitive ? '(sensitive value)' : v.value, sensitive: v.sensitive },
          ]),
        );
        out(`${JSON.stringify(name !== undefined ? view[name]!.value : view, null, 2)}\n`);
        return;
      }
      if (name === undefined && Object.keys(state.outputs).length === 0 && !o.json) {
        writeErr(
          'Warning: No outputs found\n\n  The state has no outputs: declare them under outputs: and apply.\n',
        );
        return;
      }
      if (o.raw && name !== undefined) {
        write(`${renderOutputs(state, name, true)}\n`);
        return;
      }
      out(`${renderOutputs(state, name)}\n`);
    });

  program
    .command('import <address> <id>')
    .description('bring an existing object under management')
    .option('--var <NAME=VALUE>', 'set a root variable', collect)
    .option('--var-file <file>', 'variables file', collect)
    .option('--lock-timeout <duration>', 'wait for the state lock', '0s')
    .option('--no-lock', 'do not lock')
    .action(async (address: string, id: string, o: CommonOpts) => {
      const s = await open(sessionOpts(undefined, o));
      await s.lock('import');
      try {
        const state = await s.readState();
        const inst = await s.importInstance(state, address, id);
        state.resources.push(inst);
        await s.writeState(state);
        out(`${address}: Import prepared!\n\nImport successful! The object is now managed by drover.\n`);
      } finally {
        await s.unlock();
      }
    });

  program
    .command('graph [dir]')
    .description('the dependency graph in DOT format')
    .action(async (dir?: string) => {
      const s = await open({ dir: dirOf(dir), noVars: true });
      const lines = ['digraph {', '  compound = "true"', '  newrank = "true"', '  subgraph "root" {'];
      for (const n of [...s.graph.nodes.values()].sort((a, b) => a.id.localeCompare(b.id))) {
        if (n.kind !== 'resource') continue;
        lines.push(`    "${n.id}" [label="${n.id}", shape="box"]`);
        for (const d of [...s.graph.resourceDeps(n.id)].sort()) lines.push(`    "${n.id}" -> "${d}"`);
      }
      lines.push('  }', '}');
      out(`${lines.join('\n')}\n`);
    });

  program
    .command('force-unlock <id>')
    .description('remove a lock left by a process that is gone')
    .option('--force', 'do not ask for confirmation')
    .action(async (id: string, o: CommonOpts) => {
      const s = await open({ dir: dirOf(undefined), noVars: true });
      const info = await s.backend.lockInfo();
      if (!info) throw new InfraError('the state is not locked');
      if (!o.force) {
        const a = await ask(
          `${formatLockInfo(info)}\n\nDo you really want to force-unlock?\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: `,
        );
        if (a === undefined) throw new InfraError('cannot ask for confirmation: no terminal', 'pass -force');
        if (a.trim() !== 'yes') {
          writeErr('force-unlock cancelled.\n');
          code = 1;
          return;
        }
      }
      try {
        await s.backend.forceUnlock(id);
      } catch (e) {
        throw new InfraError(`Failed to unlock state: ${(e as Error).message}`);
      }
      out('drover infra state has been successfully unlocked!\n');
    });

  const state = program.command('state').description('inspect and edit the state');
  state
    .command('list [addresses...]')
    .description('list the resources in the state')
    .action(async (filters: string[]) => {
      const s = await open({ dir: dirOf(undefined), noVars: true });
      const st = await s.readState();
      for (const i of st.resources)
        if (
          filters.length === 0 ||
          filters.some(
            (f) => i.address === f || configAddress(i.address) === f || i.address.startsWith(`${f}.`),
          )
        )
          out(
            `${i.address}${i.deposed ? ` (deposed ${i.deposed})` : ''}${i.status ? ` (${i.status})` : ''}\n`,
          );
    });
  state
    .command('show <address>')
    .description('show one resource instance')
    .action(async (address: string) => {
      const s = await open({ dir: dirOf(undefined), noVars: true });
      const st = await s.readState();
      const i = st.resources.find((x) => x.address === address);
      if (!i) throw new InfraError(`no instance ${address} in the state`, 'see drover infra state list');
      out(`${renderInstance(i)}\n`);
    });
  state
    .command('rm <addresses...>')
    .description('forget objects (they are not destroyed)')
    .option('--dry-run', 'only say what would be removed')
    .option('--lock-timeout <duration>', 'wait for the state lock', '0s')
    .action(async (addresses: string[], o: CommonOpts & { dryRun?: boolean }) => {
      const s = await open({
        dir: dirOf(undefined),
        noVars: true,
        lockTimeoutMs: parseDuration(o.lockTimeout ?? '0s'),
      });
      await s.lock('state rm');
      try {
        const st = await s.readState();
        const gone = st.resources.filter((i) =>
          addresses.some((a) => i.address === a || configAddress(i.address) === a),
        );
        const missing = addresses.filter(
          (a) => !gone.some((i) => i.address === a || configAddress(i.address) === a),
        );
        if (missing.length > 0)
          throw new InfraError(
            `no instance ${missing.join(', ')} in the state`,
            'see drover infra state list',
          );
        for (const i of gone) out(`${o.dryRun ? 'Would remove' : 'Removed'} ${i.address}\n`);
        if (o.dryRun) return;
        st.resources = st.resources.filter((i) => !gone.includes(i));
        await s.writeState(st);
        out(`Successfully removed ${gone.length} resource instance(s).\n`);
      } finally {
        await s.unlock();
      }
    });
  state
    .command('mv <source> <destination>')
    .description('rename an object in the state (no object changes)')
    .option('--lock-timeout <duration>', 'wait for the state lock', '0s')
    .action(async (src: string, dst: string, o: CommonOpts) => {
      const s = await open({
        dir: dirOf(undefined),
        noVars: true,
        lockTimeoutMs: parseDuration(o.lockTimeout ?? '0s'),
      });
      await s.lock('state mv');
      try {
        const st = await s.readState();
        const moving = st.resources.filter((i) => i.address === src || configAddress(i.address) === src);
        if (moving.length === 0)
          throw new InfraError(`no instance ${src} in the state`, 'see drover infra state list');
        const parse = (a: string) => {
          const m =
            /^((?:module\.[\w-]+\.)*)(?:(data)\.)?([\w-]+)\.([\w-]+)(\[(?:\d+|"(?:[^"\\]|\\.)*")\])?$/.exec(
              a,
            );
          if (!m)
            throw new InfraError(
              `invalid address '${a}'`,
              'addresses look like local_file.a, command.x[0], module.m.random_id.y',
            );
          return {
            module: m[1]!.replace(/\.$/, ''),
            type: m[3]!,
            name: m[4]!,
            key: m[5] ? (JSON.parse(m[5].slice(1, -1)) as number | string) : undefined,
          };
        };
        const d = parse(dst);
        for (const i of moving) {
          if (i.type !== d.type)
            throw new InfraError(`cannot move ${i.address} (a ${i.type}) to ${dst} (a ${d.type})`);
          const key =
            d.key !== undefined
              ? d.key
              : moving.length === 1 && src === i.address && configAddress(dst) === dst
                ? null
                : i.index_key;
          const addr = `${d.module ? `${d.module}.` : ''}${i.mode === 'data' ? 'data.' : ''}${d.type}.${d.name}${key === null ? '' : typeof key === 'number' ? `[${key}]` : `[${JSON.stringify(key)}]`}`;
          if (st.resources.some((x) => x.address === addr && x !== i))
            throw new InfraError(`cannot move to ${addr}: it already exists in the state`);
          out(`Move "${i.address}" to "${addr}"\n`);
          Object.assign(i, { address: addr, module: d.module, name: d.name, index_key: key });
        }
        await s.writeState(st);
        out(`Successfully moved ${moving.length} object(s).\n`);
      } finally {
        await s.unlock();
      }
    });

  try {
    if (args.length === 0 || args[0] === '--help' || args[0] === 'help') {
      write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(args, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError)
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 1;
    if (e instanceof ValidationError) {
      const errs = e.problems.filter((p) => p.severity !== 'warning');
      writeErr(
        redact(
          `${errs.map((p) => `Error: ${formatProblem(p)}`).join('\n\n')}\n\nNothing was changed (${errs.length} problem${errs.length === 1 ? '' : 's'}).\n`,
        ),
      );
      return 1;
    }
    if (e instanceof DroverError) {
      writeErr(redact(`Error: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`));
      return 1;
    }
    writeErr(
      redact(
        `Error: unexpected: ${(e as Error)?.stack ?? String(e)}\nThis is a bug in drover; please report it.\n`,
      ),
    );
    return 1;
  } finally {
    await session?.close().catch(() => {});
  }
}
