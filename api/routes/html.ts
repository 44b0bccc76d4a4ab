// Small server-rendered pages for readers without JavaScript. Every value goes through escapeHtml.

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

const STYLE = `
body { font: 1rem/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input, textarea, select { width: 100%; box-sizing: border-box; font: inherit; padding: 0.4rem; }
textarea { min-height: 12rem; }
button { margin-top: 1rem; font: inherit; padding: 0.4rem 1rem; }
.problems { border: 2px solid #b00020; padding: 0.5rem 1rem; }
.problem { color: #b00020; }
`;

/** Wraps page content in a complete HTML document; `body` must already be escaped. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
