// The hostile-input corpus: every case with the response the API must return, grouped by kind. The
// API suite sends each one; the browser suite renders every accepted one in a built site.
import { authorUrlCases } from './families/author-url.ts';
import { markdownDosCases } from './families/markdown-dos.ts';
import { oversizedCases } from './families/oversized.ts';
import { pathIdCases } from './families/path-id.ts';
import { scriptHtmlCases } from './families/script-html.ts';
import { unicodeCases } from './families/unicode.ts';
import { urlSchemeCases } from './families/url-scheme.ts';
import { wrongTypeCases } from './families/wrong-type.ts';
import { yamlTrapCases } from './families/yaml-trap.ts';
import { KINDS, type HostileCase, type Kind } from './hostile-case.ts';

export * from './hostile-case.ts';

function collect(): HostileCase[] {
  const cases = [
    ...scriptHtmlCases(),
    ...urlSchemeCases(),
    ...markdownDosCases(),
    ...yamlTrapCases(),
    ...unicodeCases(),
    ...oversizedCases(),
    ...wrongTypeCases(),
    ...pathIdCases(),
    ...authorUrlCases(),
  ];
  const seen = new Set<string>();
  for (const hostile of cases) {
    if (seen.has(hostile.id)) throw new Error(`hostile case id ${hostile.id} is used twice`);
    seen.add(hostile.id);
  }
  return cases;
}

export const HOSTILE_CASES: readonly HostileCase[] = collect();

/** The cases the API must accept, store unchanged and render as text. */
export const INERT_CASES = HOSTILE_CASES.filter((hostile) => hostile.expected === 'stored-inert');

/** Number of cases of each kind, in the order of KINDS. */
export function countByKind(cases: readonly HostileCase[]): Record<Kind, number> {
  const counts = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<Kind, number>;
  for (const hostile of cases) counts[hostile.kind] += 1;
  return counts;
}
