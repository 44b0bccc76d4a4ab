// Small server-rendered pages for readers without JavaScript: the shared document shell, its
// inline style, the Content-Security-Policy they are sent with, and date and number formats.
// Every value goes through escapeHtml.

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

// The colours, font stack and borders follow site/styles/site.css, so that a reader moving from
// the blog to these pages gets the same plain look. Nothing is loaded from anywhere.
const STYLE = `
:root {
  --text: #1d1f23; --muted: #5b6170; --line: #d9dce3; --wash: #f5f6f8; --accent: #1f5fbf;
  --error: #a12020; --error-wash: #fdecec; --ok-wash: #e9f6ec;
  color-scheme: light;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  line-height: 1.6; color: var(--text); background: #fff;
}
* { box-sizing: border-box; }
body { margin: 0; }
.wrap { max-width: 40rem; margin: 0 auto; padding: 0 1rem; }
.site-header { border-bottom: 1px solid var(--line); margin-bottom: 2rem; }
.site-header .wrap { padding-top: 1rem; padding-bottom: 1rem; }
.site-name { font-weight: 700; font-size: 1.2rem; color: var(--text); text-decoration: none; }
.site-footer { margin-top: 3rem; padding-bottom: 2rem; color: var(--muted); font-size: 0.9rem; }
.site-footer p { margin: 0; padding-top: 1rem; border-top: 1px solid var(--line); }
h1 { margin: 0 0 0.5rem; line-height: 1.25; }
a { color: var(--accent); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
.meta { margin: 0.25rem 0; color: var(--muted); font-size: 0.9rem; }
.lead { margin: 0 0 1rem; color: var(--muted); }
.status {
  display: inline-block; margin: 0.5rem 0 0; padding: 0.15rem 0.75rem; border-radius: 999px;
  border: 1px solid var(--line); background: var(--wash); font-weight: 600;
}
.status-published { border-color: #9fd3ad; background: var(--ok-wash); }
.status-declined { border-color: #e8b9b9; background: var(--error-wash); }
.receipt, .problems {
  margin: 1rem 0; padding: 0.75rem 1rem; border: 1px solid var(--line); border-radius: 6px;
}
.receipt > :first-child, .problems > :first-child { margin-top: 0; }
.receipt > :last-child, .problems > :last-child { margin-bottom: 0; }
.receipt p { margin: 0.5rem 0; }
.receipt .status + p { margin-top: 0.25rem; }
.receipt-list { list-style: none; margin: 0; padding: 0; }
.receipt-title { margin-bottom: 0; font-size: 1.1rem; font-weight: 600; }
.receipt-title + .meta { margin-top: 0; }
.copy-label { margin: 1rem 0 0.25rem; color: var(--muted); font-size: 0.9rem; }
.problems { border-color: #e8b9b9; background: var(--error-wash); }
.problems ul { margin: 0.5rem 0 0; padding-left: 1.25rem; }
.problem { margin: 0 0 0.25rem; color: var(--error); font-size: 0.9rem; }
label { display: block; margin: 1rem 0 0.25rem; font-weight: 600; font-size: 0.95rem; }
.hint { color: var(--muted); font-weight: 400; font-size: 0.85rem; }
input, textarea, select {
  width: 100%; padding: 0.45rem 0.6rem; border: 1px solid #b9bfcc; border-radius: 4px;
  font: inherit; color: var(--text); background: #fff;
}
textarea { min-height: 12rem; resize: vertical; }
textarea[readonly] { min-height: 0; background: var(--wash); }
[aria-invalid='true'] { border-color: var(--error); }
input:focus, textarea:focus, select:focus, button:focus-visible {
  outline: 2px solid var(--accent); outline-offset: 1px;
}
button {
  margin-top: 1rem; padding: 0.5rem 1.1rem; border: 1px solid var(--accent); border-radius: 4px;
  background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer;
}
`;

/** The blog a page belongs to: its name as the blog's header shows it, and its home page. */
export interface SiteLink {
  name: string;
  url: string;
}

/** Wraps page content in a complete HTML document; `body` must already be escaped. */
export function htmlPage(title: string, body: string, site: SiteLink | null = null): string {
  const siteName =
    site === null
      ? '<span class="site-name">Marginalia</span>'
      : `<a class="site-name" href="${escapeHtml(site.url)}">${escapeHtml(site.name)}</a>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · ${escapeHtml(site?.name ?? 'Marginalia')}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="site-header"><div class="wrap">${siteName}</div></header>
<main class="wrap">
${body}
</main>
<footer class="site-footer wrap">
<p>Comments on this blog are reviewed by staff before they appear.</p>
</footer>
</body>
</html>
`;
}

/**
 * Builds the Content-Security-Policy of every reader page. The pages need no script, font, frame or
 * remote resource, only their inline style. Forms may post to the API, and a form post may be
 * redirected back to one of the sites, so `formOrigins` must list the API and both sites.
 */
export function readerPagePolicy(formOrigins: Iterable<string>): string {
  return [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src 'self'",
    `form-action ${[...new Set(formOrigins)].join(' ')}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const DATE_TIME_FORMAT = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'long',
  timeStyle: 'short',
  timeZone: 'UTC',
});
const NUMBER_FORMAT = new Intl.NumberFormat('en-GB');

/** Formats an instant as the blog does: "4 December 2026 at 16:23 UTC". */
export function formatUtcDateTime(date: Date): string {
  return `${DATE_TIME_FORMAT.format(date)} UTC`;
}

/** Formats a count with thousands separators: "25,012". */
export function formatCount(value: number): string {
  return NUMBER_FORMAT.format(value);
}

/** Renders a `<time>` element with the readable date, and the exact instant in its datetime. */
export function timeElement(date: Date): string {
  return `<time datetime="${date.toISOString()}">${escapeHtml(formatUtcDateTime(date))}</time>`;
}
