// Checks HTTP exchanges and webhook bodies against test/openapi/github-subset.json, the part of
// GitHub's OpenAPI description that the forge client and the local forge use.

import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const FIXTURE_ID = 'github-subset.json';

interface FixtureParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: object;
}

interface FixtureOperation {
  operationId: string;
  parameters: FixtureParameter[];
  requestBody: object | null;
  responses: Record<string, { schema: object | null }>;
}

interface Fixture {
  source: { version: string };
  operations: Record<string, FixtureOperation>;
  webhooks: Record<string, object>;
}

export interface Exchange {
  method: string;
  url: string;
  requestBody: unknown;
  /** Null when no response arrived (connection closed or time-out). */
  status: number | null;
  responseHeaders: Record<string, string>;
  responseBody: unknown;
  /** GitHub's operation id the request matched, or null. */
  operation: string | null;
  /** Every way the exchange departs from the schemas; empty when it conforms. */
  problems: string[];
}

export interface CheckOptions {
  /**
   * Statuses accepted although the operation does not list them, such as 401 and injected
   * faults; their bodies must still be GitHub error bodies (basic-error).
   */
  unlistedStatuses?: readonly number[];
}

function loadFixture(): Fixture {
  return JSON.parse(
    readFileSync(new URL('./github-subset.json', import.meta.url), 'utf8'),
    (_key, value: unknown) => (isObject(value) ? adaptToAjv(value) : value),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Adapts OpenAPI 3.0 schemas to Ajv. A `nullable: true` schema without `type` (a oneOf or a $ref)
 * becomes "that schema, or null", because Ajv applies nullable only by extending `type`. `oneOf`
 * becomes `anyOf`: GitHub lists alternatives that overlap (every error body matches both
 * basic-error and repository-rule-violation-error), so "exactly one" would reject its own responses.
 */
function adaptToAjv(schema: Record<string, unknown>): Record<string, unknown> {
  let converted = schema;
  if (Array.isArray(converted['oneOf'])) {
    const { oneOf, ...rest } = converted;
    converted = { ...rest, anyOf: oneOf };
  }
  if (converted['nullable'] !== true || 'type' in converted) return converted;
  const { nullable: _nullable, ...rest } = converted;
  return { anyOf: [rest, { type: 'null' }] };
}

function escapePointer(segment: string): string {
  return encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'));
}

function formatErrors(where: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (error) =>
      `${where}${error.instancePath || '/'} ${error.message ?? 'is invalid'} (${error.schemaPath})`,
  );
}

interface CompiledOperation {
  key: string;
  method: string;
  pattern: RegExp;
  operation: FixtureOperation;
  validateBody: ValidateFunction | null;
  validateParameter: Map<string, ValidateFunction>;
  validateResponse: Map<string, ValidateFunction | null>;
}

/** Builds a checker; compiling the schemas takes a moment, so build one per test file. */
export function createOpenApiChecker(options: CheckOptions = {}) {
  const fixture = loadFixture();
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // GitHub's own format for "owner/name" in pull request bodies.
  ajv.addFormat('repo.nwo', /^[^/]+\/[^/]+$/);
  ajv.addSchema({ ...fixture, $id: FIXTURE_ID });
  // Query and path values arrive as text: a separate instance coerces them to their types.
  const parameterAjv = new Ajv({ strict: false, allErrors: true, coerceTypes: true });
  addFormats.default(parameterAjv);
  parameterAjv.addFormat('repo.nwo', /^[^/]+\/[^/]+$/);
  parameterAjv.addSchema({ ...fixture, $id: FIXTURE_ID });

  const refTo = (...segments: string[]) =>
    ajv.compile({ $ref: `${FIXTURE_ID}#/${segments.map(escapePointer).join('/')}` });
  const basicError = refTo('components', 'schemas', 'basic-error');

  const operations: CompiledOperation[] = Object.entries(fixture.operations).map(
    ([key, operation]) => {
      const [method = '', template = ''] = key.split(' ');
      // {ref} and {path} may hold slashes; the other parameters are single segments.
      const source = template.replace(/\{(\w+)\}/g, (_, name: string) =>
        name === 'ref' || name === 'path' ? `(?<${name}>.+)` : `(?<${name}>[^/]+)`,
      );
      const validateResponse = new Map<string, ValidateFunction | null>();
      for (const [status, response] of Object.entries(operation.responses)) {
        validateResponse.set(
          status,
          response.schema === null ? null : refTo('operations', key, 'responses', status, 'schema'),
        );
      }
      const validateParameter = new Map<string, ValidateFunction>();
      operation.parameters.forEach((parameter, index) => {
        const wrapped = {
          $ref: `${FIXTURE_ID}#/${['operations', key, 'parameters', String(index), 'schema'].map(escapePointer).join('/')}`,
        };
        validateParameter.set(
          `${parameter.in}:${parameter.name}`,
          parameterAjv.compile({ type: 'object', properties: { value: wrapped } }),
        );
      });
      return {
        key,
        method,
        pattern: new RegExp(`^${source}$`),
        operation,
        validateBody:
          operation.requestBody === null ? null : refTo('operations', key, 'requestBody'),
        validateParameter,
        validateResponse,
      };
    },
  );

  function match(method: string, pathname: string) {
    for (const compiled of operations) {
      if (compiled.method !== method) continue;
      const found = compiled.pattern.exec(pathname);
      if (found) return { compiled, params: found.groups ?? {} };
    }
    return null;
  }

  function checkParameters(
    compiled: CompiledOperation,
    params: Record<string, string>,
    query: URLSearchParams,
  ): string[] {
    const problems: string[] = [];
    const values = new Map<string, string>();
    for (const [name, value] of Object.entries(params))
      values.set(`path:${name}`, decodeURIComponent(value));
    for (const [name, value] of query) values.set(`query:${name}`, value);
    for (const parameter of compiled.operation.parameters) {
      const id = `${parameter.in}:${parameter.name}`;
      const value = values.get(id);
      if (value === undefined) {
        if (parameter.required && parameter.in !== 'header')
          problems.push(`request: missing ${parameter.in} parameter ${parameter.name}`);
        continue;
      }
      const validate = compiled.validateParameter.get(id);
      if (validate && !validate({ value }))
        problems.push(
          ...formatErrors(`request ${parameter.in} parameter ${parameter.name}`, validate.errors),
        );
    }
    for (const name of query.keys()) {
      if (
        !compiled.operation.parameters.some(
          (parameter) => parameter.in === 'query' && parameter.name === name,
        )
      ) {
        problems.push(`request: query parameter ${name} is not described`);
      }
    }
    return problems;
  }

  /** Checks one request and its response against the operation it matches. */
  function checkExchange(
    exchange: Omit<Exchange, 'operation' | 'problems'>,
  ): Pick<Exchange, 'operation' | 'problems'> {
    const url = new URL(exchange.url);
    const found = match(exchange.method.toUpperCase(), url.pathname);
    if (found === null)
      return {
        operation: null,
        problems: [`no operation matches ${exchange.method} ${url.pathname}`],
      };
    const { compiled } = found;
    const problems = checkParameters(compiled, found.params, url.searchParams);

    if (compiled.validateBody !== null && exchange.requestBody !== undefined) {
      if (!compiled.validateBody(exchange.requestBody))
        problems.push(...formatErrors('request body', compiled.validateBody.errors));
    } else if (compiled.validateBody === null && exchange.requestBody !== undefined) {
      problems.push('request: has a body but the operation takes none');
    }

    if (exchange.status === null) return { operation: compiled.operation.operationId, problems };
    if (exchange.responseHeaders['x-github-request-id'] === undefined)
      problems.push('response: missing x-github-request-id');
    const status = String(exchange.status);
    if (!compiled.validateResponse.has(status)) {
      if (options.unlistedStatuses?.includes(exchange.status) !== true) {
        problems.push(`response: status ${status} is not described for ${compiled.key}`);
      } else if (!basicError(exchange.responseBody)) {
        problems.push(...formatErrors(`response ${status} body (basic-error)`, basicError.errors));
      }
      return { operation: compiled.operation.operationId, problems };
    }
    const validate = compiled.validateResponse.get(status);
    if (validate && !validate(exchange.responseBody))
      problems.push(...formatErrors(`response ${status} body`, validate.errors));
    return { operation: compiled.operation.operationId, problems };
  }

  const webhookValidators = new Map(
    Object.keys(fixture.webhooks).map((key) => [key, refTo('webhooks', key)]),
  );

  /** Checks a webhook body; `key` is the x-webhooks name, such as pull-request-closed or push. */
  function checkWebhook(key: string, body: unknown): string[] {
    const validate = webhookValidators.get(key);
    if (validate === undefined) return [`webhook ${key} is not in the fixture`];
    return validate(body) ? [] : formatErrors(`webhook ${key}`, validate.errors);
  }

  /**
   * Returns a fetch that sends through the global fetch, checks every exchange and records it in
   * `exchanges`. A request without a response is recorded with status null and its error rethrown.
   */
  function recordingFetch(): { fetch: typeof fetch; exchanges: Exchange[] } {
    const exchanges: Exchange[] = [];
    const recording: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const text =
        init?.body === undefined || init.body === null ? '' : await request.clone().text();
      const requestBody: unknown = text === '' ? undefined : JSON.parse(text);
      const base = { method: request.method, url: request.url, requestBody };
      let response: Response;
      try {
        response = await fetch(request);
      } catch (error) {
        const record = { ...base, status: null, responseHeaders: {}, responseBody: undefined };
        exchanges.push({ ...record, ...checkExchange(record) });
        throw error;
      }
      const raw = await response.clone().text();
      const record = {
        ...base,
        status: response.status,
        responseHeaders: Object.fromEntries(response.headers),
        responseBody: raw === '' ? undefined : JSON.parse(raw),
      };
      exchanges.push({ ...record, ...checkExchange(record) });
      return response;
    };
    return { fetch: recording, exchanges };
  }

  return { version: fixture.source.version, checkExchange, checkWebhook, recordingFetch };
}

export type OpenApiChecker = ReturnType<typeof createOpenApiChecker>;
