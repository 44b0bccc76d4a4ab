// The one export of the runtime module `cloudflare:workers` that the Worker uses. It is declared
// here because the global types of @cloudflare/workers-types clash with Node's, which the rest of
// the code is checked against; its exported types are imported by name instead.
declare module 'cloudflare:workers' {
  /** Keeps the current request's invocation alive until `promise` settles (workerd 2025 and later). */
  export function waitUntil(promise: Promise<unknown>): void;
}
