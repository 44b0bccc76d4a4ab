// The deploy trigger log on Node: one SQLite table in its own file beside the outbox, so that a
// restart does not trigger a deploy hook again for a merge it already triggered.
import { DatabaseSync } from 'node:sqlite';
import type { DeploySite, DeployTriggerLog } from './deploy-hooks.ts';

export interface SqliteTriggerLog extends DeployTriggerLog {
  close(): void;
}

/** Opens (creating when needed) the trigger log at `path`. */
export function openSqliteTriggerLog(path: string): SqliteTriggerLog {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS deploy_triggers (
      site TEXT NOT NULL,
      sha TEXT NOT NULL,
      triggered_at INTEGER NOT NULL,
      PRIMARY KEY (site, sha)
    ) STRICT`);
  const find = db.prepare('SELECT 1 AS found FROM deploy_triggers WHERE site = ? AND sha = ?');
  const insert = db.prepare(
    'INSERT INTO deploy_triggers (site, sha, triggered_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  );
  return {
    hasTriggered: async (site: DeploySite, sha: string) => find.get(site, sha) !== undefined,
    recordTriggered: async (site: DeploySite, sha: string, at: Date) => {
      insert.run(site, sha, at.getTime());
    },
    close: () => {
      if (db.isOpen) db.close();
    },
  };
}
