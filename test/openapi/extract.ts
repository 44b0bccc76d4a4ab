// Regenerates test/openapi/github-subset.json: the parts of GitHub's published OpenAPI description
// (@octokit/openapi) that the forge client and the local forge use. The whole package unpacks to
// about 385 MB, so it is installed into a temporary directory, read once and removed.
//
// Usage: npm run openapi:fixture [-- <@octokit/openapi version>]
// Without a version, the script reads the one that the installed @octokit/openapi-types (the
// types @octokit/rest is built from) was generated from, so client and fixture describe one API.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { format, resolveConfig } from 'prettier';

const run = promisify(execFile);

/** The operations used, by OpenAPI path and method. */
const USED_OPERATIONS: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'get', path: '/repos/{owner}/{repo}' },
  { method: 'get', path: '/repos/{owner}/{repo}/git/ref/{ref}' },
  { method: 'post', path: '/repos/{owner}/{repo}/git/refs' },
  { method: 'delete', path: '/repos/{owner}/{repo}/git/refs/{ref}' },
  { method: 'get', path: '/repos/{owner}/{repo}/contents/{path}' },
  { method: 'put', path: '/repos/{owner}/{repo}/contents/{path}' },
  { method: 'get', path: '/repos/{owner}/{repo}/pulls' },
  { method: 'post', path: '/repos/{owner}/{repo}/pulls' },
  { method: 'get', path: '/repos/{owner}/{repo}/pulls/{pull_number}' },
  { method: 'patch', path: '/repos/{owner}/{repo}/pulls/{pull_number}' },
  { method: 'put', path: '/repos/{owner}/{repo}/pulls/{pull_number}/merge' },
  { method: 'post', path: '/repos/{owner}/{repo}/issues/{issue_number}/labels' },
  { method: 'post', path: '/app/installations/{installation_id}/access_tokens' },
];

/** Webhook events the local forge sends, by their key under `x-webhooks`. */
const USED_WEBHOOKS = ['pull-request-closed', 'push'] as const;

/** Schemas added although no used operation reaches them: every error body is a basic-error. */
const EXTRA_SCHEMAS = ['basic-error'];

/** Keys that document rather than constrain; dropping them keeps the fixture small. */
const DOCUMENTATION_KEYS = new Set(['description', 'summary', 'example', 'examples', 'title']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function child(value: Json | undefined, key: string): Json | undefined {
  return isObject(value) ? value[key] : undefined;
}

/** Follows a local `#/a/b` pointer inside the document. */
function resolvePointer(document: JsonObject, pointer: string): Json {
  if (!pointer.startsWith('#/')) throw new Error(`Unsupported $ref ${pointer}: only local refs.`);
  let node: Json | undefined = document;
  for (const raw of pointer.slice(2).split('/')) {
    node = child(node, raw.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  if (node === undefined) throw new Error(`Dangling $ref ${pointer} in the OpenAPI document.`);
  return node;
}

/**
 * Copies a value without documentation keys or `x-` extensions. Refs to components other than
 * schemas (responses, parameters, headers) are inlined. Schema refs stay refs, and their names are
 * collected so that only reachable schemas are kept.
 */
function prune(document: JsonObject, value: Json, schemaNames: Set<string>): Json {
  if (Array.isArray(value)) return value.map((item) => prune(document, item, schemaNames));
  if (!isObject(value)) return value;
  const ref = value['$ref'];
  if (typeof ref === 'string') {
    const schemaPrefix = '#/components/schemas/';
    if (ref.startsWith(schemaPrefix)) {
      schemaNames.add(ref.slice(schemaPrefix.length));
      return { $ref: ref };
    }
    return prune(document, resolvePointer(document, ref), schemaNames);
  }
  const copy: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith('x-')) continue;
    if (DOCUMENTATION_KEYS.has(key)) continue;
    // The keys of a `properties` map are field names, which may be "title" or "description".
    copy[key] =
      key === 'properties' && isObject(item)
        ? pruneMap(document, item, schemaNames)
        : prune(document, item, schemaNames);
  }
  return copy;
}

function pruneMap(document: JsonObject, map: JsonObject, schemaNames: Set<string>): JsonObject {
  const copy: JsonObject = {};
  for (const [name, schema] of Object.entries(map))
    copy[name] = prune(document, schema, schemaNames);
  return copy;
}

/** Picks the JSON media type of a content map (GitHub lists vendor types beside it). */
function jsonSchemaOf(content: Json | undefined): Json | undefined {
  if (!isObject(content)) return undefined;
  return child(content['application/json'], 'schema');
}

function extractOperation(
  document: JsonObject,
  operation: JsonObject,
  names: Set<string>,
): JsonObject {
  const parameters: Json[] = [];
  const rawParameters = operation['parameters'];
  for (const parameter of Array.isArray(rawParameters) ? rawParameters : []) {
    const resolved = prune(document, parameter, names);
    if (!isObject(resolved)) continue;
    parameters.push({
      name: resolved['name'] ?? null,
      in: resolved['in'] ?? null,
      required: resolved['required'] ?? false,
      schema: resolved['schema'] ?? {},
    });
  }

  const requestSchema = jsonSchemaOf(child(operation['requestBody'], 'content'));
  const responses: JsonObject = {};
  for (const [status, response] of Object.entries(operation['responses'] ?? {})) {
    const resolved =
      isObject(response) && typeof response['$ref'] === 'string'
        ? resolvePointer(document, response['$ref'])
        : response;
    const schema = jsonSchemaOf(child(resolved, 'content'));
    responses[status] = { schema: schema === undefined ? null : prune(document, schema, names) };
  }

  return {
    operationId: operation['operationId'] ?? null,
    parameters,
    requestBody: requestSchema === undefined ? null : prune(document, requestSchema, names),
    responses,
  };
}

/** Adds every schema reachable from the collected names, following refs inside schemas. */
function collectSchemas(document: JsonObject, names: Set<string>): JsonObject {
  const schemas: JsonObject = {};
  const pending = [...names];
  while (pending.length > 0) {
    const name = pending.pop();
    if (name === undefined || name in schemas) continue;
    const found = new Set<string>();
    schemas[name] = prune(
      document,
      resolvePointer(document, `#/components/schemas/${name}`),
      found,
    );
    for (const next of found) if (!(next in schemas)) pending.push(next);
  }
  return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
}

/** Builds the fixture from a parsed api.github.com.json. */
function extractSubset(document: JsonObject, version: string): JsonObject {
  const names = new Set<string>(EXTRA_SCHEMAS);
  const operations: JsonObject = {};
  for (const { method, path: route } of USED_OPERATIONS) {
    const operation = child(child(document['paths'], route), method);
    if (!isObject(operation))
      throw new Error(`Operation ${method.toUpperCase()} ${route} is missing.`);
    operations[`${method.toUpperCase()} ${route}`] = extractOperation(document, operation, names);
  }

  const webhooks: JsonObject = {};
  for (const key of USED_WEBHOOKS) {
    const post = child(child(document['x-webhooks'], key), 'post');
    const schema = jsonSchemaOf(child(child(post, 'requestBody'), 'content'));
    if (schema === undefined) throw new Error(`Webhook ${key} has no JSON request body.`);
    webhooks[key] = prune(document, schema, names);
  }

  return {
    source: { package: '@octokit/openapi', version, file: 'generated/api.github.com.json' },
    operations,
    webhooks,
    components: { schemas: collectSchemas(document, names) },
  };
}

async function readPinnedVersion(): Promise<string> {
  const manifest: Json = JSON.parse(
    await readFile('node_modules/@octokit/openapi-types/package.json', 'utf8'),
  );
  const pinned = child(child(manifest, 'octokit'), 'openapi-version');
  if (typeof pinned !== 'string') {
    throw new Error(
      'node_modules/@octokit/openapi-types/package.json has no octokit.openapi-version: run npm install, or pass a version.',
    );
  }
  return pinned;
}

async function main(): Promise<void> {
  const version = process.argv[2] ?? (await readPinnedVersion());
  const directory = await mkdtemp(path.join(tmpdir(), 'octokit-openapi-'));
  try {
    await run('npm', [
      'install',
      '--prefix',
      directory,
      '--no-save',
      '--no-audit',
      '--no-fund',
      `@octokit/openapi@${version}`,
    ]);
    const file = path.join(
      directory,
      'node_modules/@octokit/openapi/generated/api.github.com.json',
    );
    const document: Json = JSON.parse(await readFile(file, 'utf8'));
    if (!isObject(document)) throw new Error(`${file} is not a JSON object.`);
    const subset = extractSubset(document, version);
    const target = path.resolve('test/openapi/github-subset.json');
    // Written as Prettier formats it, so that `npm run format:check` accepts a regenerated file.
    const config = await resolveConfig(target);
    const text = await format(JSON.stringify(subset, null, 2), { ...config, parser: 'json' });
    await writeFile(target, text);
    console.log(
      `Wrote ${target} (${Math.round(text.length / 1024)} KB) from @octokit/openapi@${version}.`,
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
