// `npm run review`: staff review from the terminal, through the API's staff routes.
//
//   npm run review                    list the comments waiting for review
//   npm run review -- show RECEIPT    print one comment's text and metadata
//   npm run review -- approve RECEIPT merge its pull request; both sites rebuild
//   npm run review -- decline RECEIPT close its pull request unmerged
//
// MARGINALIA_API_URL (http://127.0.0.1:8787) is the API, and MARGINALIA_STAFF_TOKEN the staff
// token; when unset, the token is read from the secrets file that `npm start` wrote in
// MARGINALIA_DATA_DIR (.marginalia).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { terminalText } from './terminal-text.ts';

interface PendingComment {
  receipt: string;
  title: string;
  post?: { id: string; title: string | null };
  author?: string;
  date?: string;
  visibility?: string;
  parent?: string | null;
  text?: string;
  pullRequest: { number: number; url: string };
}

const USAGE = `Usage: npm run review [-- list | show RECEIPT | approve RECEIPT | decline RECEIPT]`;

function staffToken(): string {
  const fromEnv = process.env['MARGINALIA_STAFF_TOKEN'];
  if (fromEnv) return fromEnv;
  const file = path.resolve(process.env['MARGINALIA_DATA_DIR'] ?? '.marginalia', 'secrets.json');
  if (!existsSync(file)) {
    throw new Error(
      `MARGINALIA_STAFF_TOKEN is not set and ${file} does not exist; run npm start first, or set the token.`,
    );
  }
  const secrets: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof secrets === 'object' && secrets !== null && 'staffToken' in secrets) {
    return String(secrets.staffToken);
  }
  throw new Error(`${file} has no staffToken; delete it and run npm start again.`);
}

async function call(method: string, route: string): Promise<unknown> {
  const base = (process.env['MARGINALIA_API_URL'] ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  const token = staffToken();
  let response: Response;
  try {
    response = await fetch(`${base}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
  } catch (error) {
    throw new Error(`could not reach the API at ${base} (${String(error)}); is npm start running?`);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message =
      typeof body === 'object' && body !== null && 'error' in body
        ? JSON.stringify(body.error)
        : `HTTP ${response.status}`;
    throw new Error(`${method} ${route} failed: ${message}`);
  }
  return body;
}

async function pending(): Promise<PendingComment[]> {
  const body = await call('GET', '/api/staff/comments');
  if (
    typeof body === 'object' &&
    body !== null &&
    'comments' in body &&
    Array.isArray(body.comments)
  ) {
    return body.comments as PendingComment[];
  }
  throw new Error('the API returned an unexpected list; check that it is a Marginalia API');
}

function describe(comment: PendingComment): string {
  const where = comment.post ? `on “${comment.post.title ?? comment.post.id}”` : '';
  const line = `${comment.receipt}  #${comment.pullRequest.number}  ${comment.author ?? '?'} ${where} (${comment.visibility ?? '?'})`;
  return terminalText(line, { multiline: false });
}

async function main(args: string[]): Promise<void> {
  const [command = 'list', receipt] = args;
  if (command === 'list') {
    const comments = await pending();
    if (comments.length === 0) console.log('No comments are waiting for review.');
    for (const comment of comments) console.log(describe(comment));
    return;
  }
  if (!receipt) throw new Error(`${command} needs a receipt id.\n${USAGE}`);
  if (command === 'show') {
    const comment = (await pending()).find((item) => item.receipt === receipt);
    if (!comment)
      throw new Error(
        `no pending comment has receipt ${receipt}; run npm run review to list them.`,
      );
    console.log(describe(comment));
    console.log(terminalText(`Pull request: ${comment.pullRequest.url}`, { multiline: false }));
    if (comment.parent) {
      console.log(terminalText(`Reply to: ${comment.parent}`, { multiline: false }));
    }
    const text = comment.text ?? '(text not in this API’s outbox)';
    console.log(`\n${terminalText(text, { multiline: true })}`);
    return;
  }
  if (command === 'approve' || command === 'decline') {
    const result = await call(
      'POST',
      `/api/staff/comments/${encodeURIComponent(receipt)}/${command}`,
    );
    console.log(JSON.stringify(result));
    return;
  }
  throw new Error(`unknown command ${command}.\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
