/** `random_*`: values generated once and kept in state until a keeper changes (Terraform's random provider). */
import { randomBytes, randomInt } from 'node:crypto';
import type { AttrSchema, Attrs, Provider, ResourceType } from '../provider.js';
import { bool, num, str, withDefaults } from './util.js';

const keepers: AttrSchema = {
  type: 'map',
  optional: true,
  forceNew: true,
  description: 'arbitrary values that, when changed, force a new value',
};

function staticType(
  type: string,
  attributes: Record<string, AttrSchema>,
  generate: (a: Attrs) => Attrs,
): ResourceType {
  const rt: ResourceType = {
    schema: { type, attributes: { keepers, ...attributes, id: { type: 'string', computed: true } } },
    plan(config) {
      return withDefaults(config, rt.schema.attributes);
    },
    async create(config) {
      const a = withDefaults(config, rt.schema.attributes);
      return { ...a, ...generate(a) };
    },
    async read(state) {
      return state;
    },
    async delete() {},
  };
  return rt;
}

const randomId = staticType(
  'random_id',
  {
    byte_length: { type: 'number', required: true, forceNew: true },
    prefix: { type: 'string', optional: true, forceNew: true },
    hex: { type: 'string', computed: true },
    b64_url: { type: 'string', computed: true },
    b64_std: { type: 'string', computed: true },
    dec: { type: 'string', computed: true },
  },
  (a) => {
    const b = randomBytes(num(a, 'byte_length', 8));
    const prefix = str(a, 'prefix');
    const b64url = b.toString('base64url');
    return {
      id: b64url,
      hex: prefix + b.toString('hex'),
      b64_url: prefix + b64url,
      b64_std: prefix + b.toString('base64'),
      dec: prefix + BigInt(`0x${b.toString('hex') || '0'}`).toString(),
    };
  },
);

const charsetAttrs: Record<string, AttrSchema> = {
  length: { type: 'number', required: true, forceNew: true },
  special: { type: 'bool', optional: true, forceNew: true, default: true },
  upper: { type: 'bool', optional: true, forceNew: true, default: true },
  lower: { type: 'bool', optional: true, forceNew: true, default: true },
  numeric: { type: 'bool', optional: true, forceNew: true, default: true },
  override_special: { type: 'string', optional: true, forceNew: true },
};

function randomText(a: Attrs): string {
  let chars = '';
  if (bool(a, 'lower', true)) chars += 'abcdefghijklmnopqrstuvwxyz';
  if (bool(a, 'upper', true)) chars += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  if (bool(a, 'numeric', true)) chars += '0123456789';
  if (bool(a, 'special', true))
    chars += a.override_special ? str(a, 'override_special') : '!@#$%&*()-_=+[]{}<>:?';
  if (!chars) chars = 'abcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (let i = 0; i < num(a, 'length', 16); i++) out += chars[randomInt(chars.length)];
  return out;
}

function charsetValidate(config: Attrs): { attribute?: string; message: string }[] {
  const n = config.length;
  if (typeof n === 'number' && (n < 1 || !Number.isInteger(n)))
    return [{ attribute: 'length', message: 'length must be a positive integer' }];
  return [];
}

const randomString = staticType(
  'random_string',
  { ...charsetAttrs, result: { type: 'string', computed: true } },
  (a) => {
    const r = randomText(a);
    return { id: r, result: r };
  },
);
randomString.validate = charsetValidate;

const randomPassword = staticType(
  'random_password',
  { ...charsetAttrs, result: { type: 'string', computed: true, sensitive: true } },
  (a) => ({ id: 'none', result: randomText(a) }),
);
randomPassword.validate = charsetValidate;

const randomInteger = staticType(
  'random_integer',
  {
    min: { type: 'number', required: true, forceNew: true },
    max: { type: 'number', required: true, forceNew: true },
    result: { type: 'number', computed: true },
  },
  (a) => {
    const r = randomInt(num(a, 'min', 0), num(a, 'max', 0) + 1);
    return { id: String(r), result: r };
  },
);
randomInteger.validate = (c) =>
  typeof c.min === 'number' && typeof c.max === 'number' && c.min > c.max
    ? [{ attribute: 'min', message: `min (${c.min}) is greater than max (${c.max})` }]
    : [];

const ADJECTIVES =
  'able brave calm deep eager fair glad happy keen lively merry neat proud quick rapid sharp smart solid swift tidy vast warm wise bold bright clever crisp fresh grand light noble'.split(
    ' ',
  );
const ANIMALS =
  'ant bear cat deer eagle fox goat hawk ibex jay koala lark lynx mole newt otter owl panda quail raven seal tiger vole wolf yak zebra bison crane dingo egret finch gecko heron'.split(
    ' ',
  );

const randomPet = staticType(
  'random_pet',
  {
    length: { type: 'number', optional: true, forceNew: true, default: 2 },
    separator: { type: 'string', optional: true, forceNew: true, default: '-' },
    prefix: { type: 'string', optional: true, forceNew: true },
  },
  (a) => {
    const n = Math.max(1, num(a, 'length', 2));
    const words: string[] = [];
    for (let i = 0; i < n - 1; i++) words.push(ADJECTIVES[randomInt(ADJECTIVES.length)]!);
    words.push(ANIMALS[randomInt(ANIMALS.length)]!);
    if (a.prefix) words.unshift(str(a, 'prefix'));
    return { id: words.join(str(a, 'separator', '-')) };
  },
);

export const randomProvider: Provider = {
  name: 'random',
  resources: [randomId, randomString, randomPassword, randomInteger, randomPet],
};
