// Markdown shaped to make a parser slow or recursive, each filled to the text limit the API
// accepts: deep nesting, emphasis and bracket runs, huge tables, many footnotes.
import { fillTo, TEXT_LIMIT, type HostileCase } from '../hostile-case.ts';

/** Each shape is a unit repeated until the text reaches the limit, after a first paragraph. */
const SHAPES: Array<[name: string, unit: string]> = [
  ['nested-quotes', '> '],
  ['nested-quotes-tight', '>'],
  ['nested-bullets', '- '],
  ['nested-ordered', '1. '],
  ['quotes-in-lists', '- > '],
  ['lists-in-quotes', '> 1) '],
  ['star-run', '*'],
  ['strong-underscore', '**_'],
  ['star-underscore', '*_'],
  ['underscore-star-letter', '_*a'],
  ['strong-letter', '**a'],
  ['strikethrough', '~~a'],
  ['open-brackets', '['],
  ['link-openers', '[a]('],
  ['nested-images', '![!['],
  ['reference-uses', '[a][b]'],
  ['angle-openers', '<a'],
  ['backtick-runs', '`a``'],
  ['entity-run', '&amp;'],
  ['numeric-entities', '&#'],
  ['autolink-literals', 'www.a.b '],
  ['email-literals', 'a@b.c '],
  ['setext-headings', 'a\n=\n'],
  ['fence-openers', '```\n'],
  ['html-openers', '<div>'],
  ['blank-lines', '\n'],
  ['pipes', '|'],
];

function lineNested(depth: number): string {
  return Array.from({ length: depth }, (_, level) => `${'  '.repeat(level)}- item`).join('\n');
}

function wideTable(): string {
  const columns = 2_000;
  return [`|${'h|'.repeat(columns)}`, `|${'-|'.repeat(columns)}`, `|${'x|'.repeat(columns)}`].join(
    '\n',
  );
}

function longTable(): string {
  return ['| a | b |', '| - | - |', ...Array.from({ length: 1_950 }, () => '| x | y |')].join('\n');
}

function footnotes(count: number): string {
  const uses = Array.from({ length: count }, (_, index) => `x[^${index}]`).join(' ');
  const notes = Array.from({ length: count }, (_, index) => `[^${index}]: n`).join('\n');
  return `${uses}\n\n${notes}`;
}

function definitions(count: number): string {
  return Array.from({ length: count }, (_, index) => `[d${index}]: https://example.org/${index}`)
    .concat(['[d0] [d1]'])
    .join('\n');
}

/** Shapes built whole rather than by repetition, each kept within the limit. */
const BUILT: Array<[name: string, text: string]> = [
  ['indented-lists', lineNested(130)],
  ['wide-table', wideTable()],
  ['long-table', longTable()],
  ['many-footnotes', footnotes(900)],
  ['many-definitions', definitions(480)],
  ['one-long-word', 'w'.repeat(TEXT_LIMIT - 40)],
  // Two comments on one page that use the same footnote label.
  ['footnote-label-first', 'A claim.[^1]\n\n[^1]: The first source.'],
  ['footnote-label-second', 'Another claim.[^1]\n\n[^1]: The second source.'],
];

function withMarker(name: string, body: string): { text: string; marker: string } {
  const marker = `Shape ${name} follows.`;
  const head = `${marker}\n\n`;
  return { text: head + body, marker };
}

export function markdownDosCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const [name, unit] of SHAPES) {
    const head = `Shape ${name} follows.\n\n`;
    const { text, marker } = withMarker(name, fillTo(unit, TEXT_LIMIT - head.length));
    cases.push({
      id: `markdown-dos/${name}`,
      kind: 'markdown-dos',
      fields: { text },
      expected: 'stored-inert',
      visible: [marker],
    });
  }
  for (const [name, body] of BUILT) {
    const { text, marker } = withMarker(name, body);
    if (text.length > TEXT_LIMIT) throw new Error(`markdown-dos/${name} is over the text limit`);
    cases.push({
      id: `markdown-dos/${name}`,
      kind: 'markdown-dos',
      fields: { text },
      expected: 'stored-inert',
      visible: [marker],
    });
  }
  return cases;
}
