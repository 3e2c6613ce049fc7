/**
 * `command`: Terraform's `null_resource` + `local-exec` in one resource. `create` runs when the
 * resource is created (or replaced because a trigger changed), `destroy` when it is destroyed.
 * Both run with `sh -c` in the infra directory; the create command's stdout is kept as `stdout`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AttrSchema, Attrs, AttrValue, Provider, ProviderContext, ResourceType } from '../provider.js';
import { configPath, mapOf, str, withDefaults } from './util.js';

const attributes: Record<string, AttrSchema> = {
  create: { type: 'string', required: true, description: 'shell command run on create' },
  destroy: { type: 'string', optional: true, description: 'shell command run on destroy' },
  triggers: {
    type: 'map',
    optional: true,
    forceNew: true,
    description: 'values that, when changed, replace the resource (create runs again)',
  },
  environment: { type: 'map', optional: true, description: 'extra environment variables' },
  working_dir: { type: 'string', optional: true },
  id: { type: 'string', computed: true },
  stdout: { type: 'string', computed: true },
};

function envOf(a: Attrs, ctx: ProviderContext, id: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DROVER_ADDRESS: ctx.address, DROVER_ID: id };
  for (const [k, v] of Object.entries(mapOf(a.environment as AttrValue | undefined)))
    env[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return env;
}

/** Runs to the end even when the user interrupts: a half-run command is worse than a late one. */
function sh(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else
        reject(
          new Error(
            `command exited with ${signal ? `signal ${signal}` : `status ${code}`}${err.trim() ? `: ${err.trim().split('\n').slice(-5).join('\n')}` : ''}`,
          ),
        );
    });
  });
}

export const commandResource: ResourceType = {
  schema: {
    type: 'command',
    description: 'run commands on create and destroy (null_resource + local-exec)',
    attributes: { ...attributes },
  },
  plan(config) {
    return withDefaults(config, attributes);
  },
  async create(config, ctx) {
    const a = withDefaults(config, attributes);
    const id = randomBytes(8).toString('hex');
    const stdout = await sh(
      str(a, 'create'),
      configPath(ctx.dir, str(a, 'working_dir', '.')),
      envOf(a, ctx, id),
    );
    return { ...a, id, stdout: stdout.trimEnd() };
  },
  async read(state) {
    return state;
  },
  async update(prior, config) {
    // Only the commands or the environment changed: nothing to run, as Terraform's local-exec.
    return {
      ...prior,
      ...withDefaults(config, attributes),
      id: prior.id ?? null,
      stdout: prior.stdout ?? null,
    };
  },
  async delete(state, ctx) {
    const script = str(state, 'destroy');
    if (!script) return;
    await sh(
      script,
      configPath(ctx.dir, str(state, 'working_dir', '.')),
      envOf(state, ctx, str(state, 'id')),
    );
  },
};

export const commandProvider: Provider = { name: 'command', resources: [commandResource] };
