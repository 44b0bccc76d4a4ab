// Links and images whose address runs script or reads local files: javascript:, vbscript:, data:
// and file: URLs, disguised the ways browsers still accept them, in every markdown link form.
import type { HostileCase } from '../hostile-case.ts';

interface Scheme {
  name: string;
  /** The scheme name, without the colon. */
  scheme: string;
  /** The rest of the URL after the colon. */
  rest: string;
}

const SCHEMES: Scheme[] = [
  { name: 'javascript', scheme: 'javascript', rest: 'alert(1)' },
  { name: 'javascript-trap', scheme: 'javascript', rest: '__pwned(1)' },
  { name: 'vbscript', scheme: 'vbscript', rest: 'msgbox(1)' },
  {
    name: 'data-html',
    scheme: 'data',
    rest: 'text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  },
  { name: 'data-svg', scheme: 'data', rest: 'image/svg+xml,%3Csvg%20onload%3Dalert(1)%3E' },
  { name: 'file', scheme: 'file', rest: '///etc/passwd' },
];

const hex = (char: string) => `&#x${(char.codePointAt(0) ?? 0).toString(16)};`;
const decimal = (char: string) => `&#${char.codePointAt(0) ?? 0};`;
const mixedCase = (text: string) =>
  Array.from(text, (char, index) => (index % 2 ? char.toUpperCase() : char)).join('');
const insertAt = (text: string, index: number, inserted: string) =>
  text.slice(0, index) + inserted + text.slice(index);

/** Ways of writing `scheme:rest` that a browser may still read as that scheme. */
const DISGUISES: Array<[name: string, disguise: (scheme: string, rest: string) => string]> = [
  ['plain', (scheme, rest) => `${scheme}:${rest}`],
  ['mixed-case', (scheme, rest) => `${mixedCase(scheme)}:${rest}`],
  ['hex-entities', (scheme, rest) => `${hex(scheme[0] ?? '')}${scheme.slice(1)}${hex(':')}${rest}`],
  ['decimal-entities', (scheme, rest) => `${Array.from(scheme, decimal).join('')}:${rest}`],
  ['named-colon', (scheme, rest) => `${scheme}&colon;${rest}`],
  ['percent-colon', (scheme, rest) => `${scheme}%3A${rest}`],
  ['escaped-colon', (scheme, rest) => `${scheme}\\:${rest}`],
  ['tab-entity', (scheme, rest) => `${insertAt(scheme, 3, '&#x09;')}:${rest}`],
  ['raw-tab', (scheme, rest) => `${insertAt(scheme, 3, '\t')}:${rest}`],
  ['newline-entity', (scheme, rest) => `${insertAt(scheme, 3, '&#10;')}:${rest}`],
  ['nul-entity', (scheme, rest) => `${insertAt(scheme, 3, '&#0;')}:${rest}`],
  ['leading-control', (scheme, rest) => `&#1;${scheme}:${rest}`],
  ['leading-space-entity', (scheme, rest) => `&#32;${scheme}:${rest}`],
  ['leading-spaces', (scheme, rest) => `   ${scheme}:${rest}`],
  ['zero-width', (scheme, rest) => `${insertAt(scheme, 3, '\u200b')}:${rest}`],
  ['fullwidth-colon', (scheme, rest) => `${scheme}\uff1a${rest}`],
];

/** Disguises tried on every scheme; the others only on javascript:. */
const COMMON_DISGUISES = new Set(['plain', 'mixed-case', 'hex-entities', 'raw-tab', 'nul-entity']);

const LABEL = 'tap here';

/** The markdown forms of a link or an image, each with the text it must show. */
const FORMS: Array<[name: string, build: (url: string) => string, visible: string[]]> = [
  ['inline-link', (url) => `Follow this. [${LABEL}](${url})`, ['Follow this.', LABEL]],
  ['angle-link', (url) => `Follow this. [${LABEL}](<${url}>)`, ['Follow this.', LABEL]],
  ['titled-link', (url) => `Follow this. [${LABEL}](${url} "title")`, ['Follow this.', LABEL]],
  ['image', (url) => `Follow this. ![${LABEL}](${url})`, ['Follow this.', LABEL]],
  ['reference-link', (url) => `Follow this. [${LABEL}][r]\n\n[r]: ${url}`, ['Follow this.', LABEL]],
  [
    'reference-image',
    (url) => `Follow this. ![${LABEL}][r]\n\n[r]: ${url}`,
    ['Follow this.', LABEL],
  ],
  ['autolink', (url) => `Follow this. <${url}>`, ['Follow this.']],
];

export function urlSchemeCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const { name, scheme, rest } of SCHEMES) {
    for (const [disguiseName, disguise] of DISGUISES) {
      if (name !== 'javascript' && !COMMON_DISGUISES.has(disguiseName)) continue;
      const url = disguise(scheme, rest);
      for (const [form, build, visible] of FORMS) {
        cases.push({
          id: `url-scheme/${name}-${disguiseName}-${form}`,
          kind: 'url-scheme',
          fields: { text: build(url) },
          expected: 'stored-inert',
          visible,
        });
      }
    }
  }
  return cases;
}
