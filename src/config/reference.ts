import * as z from 'zod';
import { configSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  pattern?: string;
}

/**
 * The configuration reference as Markdown, generated from the schema so the
 * docs cannot drift from what `check` accepts. docs/configuration.md is this
 * output; a unit test fails when they differ.
 */
export function configReference(): string {
  const schema = z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: string[] = [];
  const walk = (s: JsonSchema, prefix: string) => {
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      const required = s.required?.includes(key) && prop.default === undefined;
      const type = prop.enum ? prop.enum.map((v) => JSON.stringify(v)).join(' \\| ') : describeType(prop);
      const def =
        prop.default === undefined ? (required ? '**required**' : '') : `\`${JSON.stringify(prop.default)}\``;
      rows.push(`| \`${path}\` | ${type} | ${def} | ${(prop.description ?? '').replace(/\|/g, '\\|')} |`);
      if (prop.properties) walk(prop, path);
      if (prop.items?.properties) walk(prop.items, `${path}[]`);
    }
  };
  walk(schema, '');
  return [
    '# Configuration reference',
    '',
    '<!-- generated from src/config/schema.ts by `node dist/scripts/gen-config-doc.js`; do not edit by hand -->',
    '',
    "The config is YAML. Unknown keys are errors. Relative paths are resolved against the config file's directory.",
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

function describeType(s: JsonSchema): string {
  const t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  if (t === 'array') return `list of ${s.items?.properties ? 'objects' : (s.items?.type ?? 'any')}`;
  const bounds = [
    s.minimum === undefined ? '' : `>= ${s.minimum}`,
    s.exclusiveMinimum === undefined ? '' : `> ${s.exclusiveMinimum}`,
    // zod gives every integer MAX_SAFE_INTEGER as its maximum: not a bound anyone set
    s.maximum === undefined || s.maximum >= Number.MAX_SAFE_INTEGER ? '' : `<= ${s.maximum}`,
  ].filter((b) => b !== '');
  return bounds.length === 0 ? t : `${t} ${bounds.join(', ')}`;
}
