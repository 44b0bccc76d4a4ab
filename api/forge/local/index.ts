// Public entry of the local forge.

export { startLocalForge, type LocalForge, type LocalForgeOptions } from './server.ts';
export { seedRepository, type SeedOptions } from './seed.ts';
export { signWebhookBody, type WebhookDelivery, type WebhookOptions } from './webhooks.ts';
export type { FaultDecision, FaultHook, FaultRequest } from './faults.ts';
export type { AccessLevel, LocalForgeApp, RepositoryPermissions } from './app-auth.ts';
