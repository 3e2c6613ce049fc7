/** `local_file` (resource and data source): a file on the controller, like Terraform's local provider. */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { AttrSchema, Attrs, Provider, ResourceType } from '../provider.js';
import { configPath, sha1, sha256, str, withDefaults } from './util.js';

const attributes: Record<string, AttrSchema> = {
  filename: {
    type: 'string',
    required: true,
    forceNew: true,
    description: 'path of the file (relative to the infra directory)',
  },
  content: { type: 'string', optional: true, forceNew: true },
  sensitive_content: { type: 'string', optional: true, forceNew: true, sensitive: true },
  file_permission: { type: 'string', optional: true, forceNew: true, default: '0644' },
  directory_permission: { type: 'string', optional: true, forceNew: true, default: '0755' },
  id: { type: 'string', computed: true },
  content_sha256: { type: 'string', computed: true },
};

function body(a: Attrs): string {
  return a.sensitive_content !== undefined && a.sensitive_content !== null
    ? str(a, 'sensitive_content')
    : str(a, 'content');
}

export const localFile: ResourceType = {
  schema: { type: 'local_file', description: 'a file on the controller', attributes: { ...attributes } },
  validate(config) {
    const has = (k: string) => config[k] !== undefined && config[k] !== null;
    if (has('content') && has('sensitive_content'))
      return [
        { attribute: 'sensitive_content', message: 'only one of content and sensitive_content may be set' },
      ];
    return [];
  },
  plan(config) {
    const a = withDefaults(config, attributes);
    if (typeof a.content === 'string' || typeof a.sensitive_content === 'string') {
      a.id = sha1(body(a));
      a.content_sha256 = sha256(body(a));
    }
    return a;
  },
  async create(config, ctx) {
    const a = withDefaults(config, attributes);
    const path = configPath(ctx.dir, str(a, 'filename'));
    mkdirSync(dirname(path), {
      recursive: true,
      mode: Number.parseInt(str(a, 'directory_permission', '0755'), 8),
    });
    const tmp = `${path}.drover-tmp`;
    writeFileSync(tmp, body(a), { mode: Number.parseInt(str(a, 'file_permission', '0644'), 8) });
    chmodSync(tmp, Number.parseInt(str(a, 'file_permission', '0644'), 8));
    renameSync(tmp, path);
    return { ...a, id: sha1(body(a)), content_sha256: sha256(body(a)) };
  },
  async read(state, ctx) {
    const path = configPath(ctx.dir, str(state, 'filename'));
    if (!existsSync(path)) return undefined;
    const text = readFileSync(path, 'utf8');
    if (sha1(text) === state.id) return state;
    // Changed out of band: the new content makes the plan replace it, as Terraform does.
    const key =
      state.sensitive_content !== undefined && state.sensitive_content !== null
        ? 'sensitive_content'
        : 'content';
    return { ...state, [key]: text, id: sha1(text), content_sha256: sha256(text) };
  },
  async delete(state, ctx) {
    const path = configPath(ctx.dir, str(state, 'filename'));
    rmSync(path, { force: true });
    // A create killed between writing and renaming leaves this behind.
    rmSync(`${path}.drover-tmp`, { force: true });
  },
  async import(id, ctx) {
    const path = configPath(ctx.dir, id);
    const text = readFileSync(path, 'utf8');
    const mode = (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
    return {
      filename: id,
      content: text,
      file_permission: mode,
      directory_permission: '0755',
      id: sha1(text),
      content_sha256: sha256(text),
    };
  },
};

export const localFileData: ResourceType = {
  schema: {
    type: 'local_file',
    dataSource: true,
    attributes: {
      filename: { type: 'string', required: true },
      content: { type: 'string', computed: true },
      id: { type: 'string', computed: true },
    },
  },
  async create(config, ctx) {
    const text = readFileSync(configPath(ctx.dir, str(config, 'filename')), 'utf8');
    return { filename: config.filename ?? null, content: text, id: sha1(text) };
  },
  async read(state, ctx) {
    return localFileData.create(state, ctx);
  },
  async delete() {},
};

export const localProvider: Provider = { name: 'local', resources: [localFile, localFileData] };
