// The part of Cloudflare D1's Workers API that the D1 outbox and rate limiter call. It is declared
// here rather than taken from @cloudflare/workers-types, whose globals clash with Node's, so that
// those modules typecheck with the rest of the Node code; the Workers entry passes the real
// binding, which has these methods.

export type D1Value = string | number | null | ArrayBuffer | ArrayBufferView;

export type D1Row = Record<string, unknown>;

export interface D1QueryResult<T = D1Row> {
  results: T[];
  success: boolean;
  meta: { changes: number };
}

export interface D1Statement {
  bind(...values: D1Value[]): D1Statement;
  first<T = D1Row>(): Promise<T | null>;
  all<T = D1Row>(): Promise<D1QueryResult<T>>;
  run<T = D1Row>(): Promise<D1QueryResult<T>>;
}

export interface D1Database {
  prepare(query: string): D1Statement;
  /** Runs the statements in order in one transaction; all of them fail when one does. */
  batch<T = D1Row>(statements: D1Statement[]): Promise<D1QueryResult<T>[]>;
}

/** Returns the result at `index` of a batch, raising when D1 returned fewer results. */
export function batchResult<T>(results: D1QueryResult<T>[], index: number): D1QueryResult<T> {
  const result = results[index];
  if (result === undefined) {
    throw new Error(`D1 returned ${results.length} results for a batch, expected ${index + 1}`);
  }
  return result;
}
