import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

// Validates what the Torc test double receives and answers against Torc's own torc-openapi.yaml, patched
// only where the server is known to differ from the spec, so the double cannot drift from
// Torc without a test failing.

// A copy of NREL/torc's api/openapi.yaml at v0.10.0 (BSD 3-Clause), kept beside the double.
const SPEC_PATH = join(import.meta.dirname, 'torc-openapi.yaml');

type Schema = Record<string, unknown>;
interface Operation {
  requestBody?: { content?: { 'application/json'?: { schema?: Schema } } };
  responses?: Record<string, { content?: { 'application/json'?: { schema?: Schema } } }>;
  parameters?: { in: string; name: string; required?: boolean }[];
}

/** The documented drift, applied to the spec's schemas before compiling. */
function patchDrift(schemas: Record<string, Schema>): void {
  // The server has pending_failed.
  (schemas.job_status!.enum as string[]).push('pending_failed');
  // `status` is written as `schema: {$ref}` inside the property; the wire value is the enum.
  for (const name of ['job_model', 'result_model']) {
    const props = schemas[name]!.properties as Record<string, Schema>;
    props.status = { $ref: '#/components/schemas/job_status' };
  }
  // job_model.scheduler_id is always serialised and is null until a scheduler is assigned.
  (schemas.job_model!.properties as Record<string, Schema>).scheduler_id = { type: ['integer', 'null'] };
  // Actions also carry trigger_count, required_triggers and is_recovery.
  Object.assign(schemas.workflow_action_model!.properties as Schema, {
    trigger_count: { type: 'integer' },
    required_triggers: { type: 'integer' },
    is_recovery: { type: 'boolean' },
  });
  // The server needs every field of a resource-requirements row.
  schemas.resource_requirements_model!.required = [
    'workflow_id',
    'name',
    'num_cpus',
    'num_gpus',
    'num_nodes',
    'memory',
    'runtime',
  ];
}

/** the spec says 3.1 but writes 3.0-style `nullable: true`; turn it into a type union for Ajv. */
function nullableToUnion(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) nullableToUnion(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Schema;
  if (o.nullable === true && typeof o.type === 'string') o.type = [o.type, 'null'];
  delete o.nullable;
  delete o.example;
  for (const v of Object.values(o)) nullableToUnion(v);
}

export interface OpenApiCheck {
  request(method: string, path: string, body: unknown): string[];
  response(method: string, path: string, status: number, body: unknown): string[];
}

export function loadTorcOpenApi(): OpenApiCheck {
  const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Schema> };
  };
  patchDrift(spec.components.schemas);
  nullableToUnion(spec.components.schemas);
  nullableToUnion(spec.paths);
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ components: spec.components }, 'torc');
  const refs = (s: Schema) =>
    JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"torc#/components/')) as Schema;

  const routes = Object.entries(spec.paths).map(([template, ops]) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    ops,
  }));
  const cache = new Map<string, ValidateFunction | null>();
  const compiled = (key: string, schema: Schema | undefined) => {
    if (!cache.has(key)) cache.set(key, schema ? ajv.compile(refs(schema)) : null);
    return cache.get(key)!;
  };
  const operation = (method: string, path: string) => {
    const route = routes.find((r) => r.pattern.test(path));
    const op = route?.ops[method.toLowerCase()];
    return route && op ? { key: `${method} ${route.template}`, op } : undefined;
  };
  const problems = (validate: ValidateFunction | null, body: unknown, what: string) =>
    validate && !validate(body)
      ? (validate.errors ?? []).map((e) => `${what}${e.instancePath} ${e.message}`)
      : [];

  return {
    request(method, path, body) {
      const found = operation(method, path);
      if (!found) return [`${method} ${path} is not in torc-openapi.yaml`];
      const schema = found.op.requestBody?.content?.['application/json']?.schema;
      return problems(compiled(`${found.key} request`, schema), body, `${found.key} request body`);
    },
    response(method, path, status, body) {
      const found = operation(method, path);
      if (!found) return [`${method} ${path} is not in torc-openapi.yaml`];
      const schema = found.op.responses?.[String(status)]?.content?.['application/json']?.schema;
      return problems(compiled(`${found.key} ${status}`, schema), body, `${found.key} → ${status}`);
    },
  };
}
