// A read-only HTML page for each pull request at the address its `html_url` gives, so that the
// links staff follow from the review page lead somewhere on the local forge too. It shows the
// title, the state, the description as text and the files the pull request changes.
import { runGit } from './git.ts';
import type { ForgeState } from './state.ts';

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => escapes[char] ?? char);
}

/**
 * Returns the page `pathname` requests: a pull request number for `/<owner>/<repo>/pull/<n>`,
 * 'list' for `/<owner>/<repo>/pulls`, or null for anything else.
 */
export function pullPageNumber(
  pathname: string,
  owner: string,
  repo: string,
): number | 'list' | null {
  const match = /^\/([^/]+)\/([^/]+)\/(?:pulls|pull\/(\d{1,9}))\/?$/.exec(pathname);
  if (!match || match[1]?.toLowerCase() !== owner.toLowerCase()) return null;
  if (match[2]?.toLowerCase() !== repo.toLowerCase()) return null;
  return match[3] === undefined ? 'list' : Number(match[3]);
}

const STYLE = `<style>
body { font: 1rem/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; white-space: pre-wrap; }
.state { display: inline-block; padding: 0 .5rem; border-radius: 1rem; background: #e8e8e8; }
</style>`;

/** Lists every pull request, newest first, with its state and a link to its page. */
export function renderPullList(state: ForgeState): string {
  const rows = [...state.pulls.all()]
    .sort((a, b) => b.number - a.number)
    .map((pull) => {
      const status = pull.merged ? 'merged' : pull.state;
      const href = `/${encodeURIComponent(state.owner.login)}/${encodeURIComponent(state.repo)}/pull/${pull.number}`;
      return `<li><a href="${href}">#${pull.number} ${escapeHtml(pull.title)}</a> <span class="state">${status}</span></li>`;
    });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pull requests · ${escapeHtml(state.repo)}</title>
${STYLE}
</head>
<body>
<p>Local forge · ${escapeHtml(state.owner.login)}/${escapeHtml(state.repo)}</p>
<h1>Pull requests</h1>
${rows.length === 0 ? '<p>No pull requests yet.</p>' : `<ol reversed>${rows.join('\n')}</ol>`}
</body>
</html>
`;
}

export async function renderPullPage(state: ForgeState, number: number): Promise<string | null> {
  const pull = state.pulls.get(number);
  if (pull === undefined) return null;
  const status = pull.merged ? 'merged' : pull.state;
  // The diff between the base commit and the head commit, as git prints it.
  const diff = await runGit(state.repoPath, [
    'diff',
    '--no-color',
    '--no-ext-diff',
    `${pull.baseSha}...${pull.headSha}`,
  ]).catch(() => '(the commits of this pull request are no longer in the repository)');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(pull.title)} · #${number}</title>
${STYLE}
</head>
<body>
<p><a href="/${escapeHtml(state.owner.login)}/${escapeHtml(state.repo)}/pulls">All pull requests</a> · local forge · ${escapeHtml(state.owner.login)}/${escapeHtml(state.repo)}</p>
<h1>${escapeHtml(pull.title)} <small>#${number}</small></h1>
<p><span class="state">${status}</span> ${escapeHtml(pull.head)} into ${escapeHtml(pull.base)},
opened ${escapeHtml(pull.createdAt)}</p>
<h2>Description</h2>
<pre>${escapeHtml(pull.body ?? '')}</pre>
<h2>Changes</h2>
<pre>${escapeHtml(diff)}</pre>
</body>
</html>
`;
}
