// The parts of `cloudflare:test` and `cloudflare:workers` the workerd tests use, declared with the
// module types of @cloudflare/workers-types. The package's own declarations need its global
// types, which clash with the Node types the rest of the repository is checked against.
declare module 'cloudflare:test' {
  import type { D1Database, ExecutionContext, MessageBatch } from '@cloudflare/workers-types';

  export interface D1Migration {
    name: string;
    queries: string[];
  }
  export function applyD1Migrations(
    db: D1Database,
    migrations: D1Migration[],
    migrationsTableName?: string,
  ): Promise<void>;
  /** Deletes all data from all bindings, D1 tables included. */
  export function reset(): Promise<void>;
  export function createExecutionContext(): ExecutionContext;
  export function waitOnExecutionContext(ctx: ExecutionContext): Promise<void>;
  export function createMessageBatch<Body = unknown>(
    queueName: string,
    messages: Array<{ id: string; timestamp: Date | number; attempts: number; body: Body }>,
  ): MessageBatch<Body>;
  export interface QueueResult {
    outcome: string;
    ackAll: boolean;
    retryBatch: { retry: boolean; delaySeconds?: number };
    explicitAcks: string[];
    retryMessages: Array<{ msgId: string; delaySeconds?: number }>;
  }
  export function getQueueResult(batch: MessageBatch, ctx: ExecutionContext): Promise<QueueResult>;
}

declare module 'cloudflare:workers' {
  /** The bindings of the Worker under test. */
  export const env: unknown;
  /** The Worker's exports; `exports.default.fetch` calls its fetch handler. */
  export const exports: { default: { fetch(request: Request): Promise<Response> } };
}
