// Text that looks different from what it is: bidirectional overrides, invisible characters,
// combining marks, normalization pairs, lone surrogates, noncharacters, line endings and NUL.
import { invalid, type Expected, type HostileCase, type StoredFields } from '../hostile-case.ts';

interface UnicodeRow {
  name: string;
  field: 'author' | 'text';
  value: string;
  expected: Expected;
  stored?: Partial<StoredFields>;
  visible?: string[];
  knownBug?: string;
}

const BIDI_CONTROLS: Array<[name: string, char: string]> = [
  ['left-to-right-embedding', '\u202a'],
  ['right-to-left-embedding', '\u202b'],
  ['pop-directional-formatting', '\u202c'],
  ['left-to-right-override', '\u202d'],
  ['right-to-left-override', '\u202e'],
  ['left-to-right-isolate', '\u2066'],
  ['right-to-left-isolate', '\u2067'],
  ['first-strong-isolate', '\u2068'],
  ['pop-directional-isolate', '\u2069'],
];

/** Characters that show nothing, or a blank, where they stand. */
const INVISIBLE: Array<[name: string, char: string]> = [
  ['zero-width-space', '\u200b'],
  ['zero-width-joiner', '\u200d'],
  ['word-joiner', '\u2060'],
  ['byte-order-mark', '\ufeff'],
  ['no-break-space', '\u00a0'],
  ['ideographic-space', '\u3000'],
  ['left-to-right-mark', '\u200e'],
  ['right-to-left-mark', '\u200f'],
  ['soft-hyphen', '\u00ad'],
  ['combining-grapheme-joiner', '\u034f'],
  ['variation-selector', '\ufe0f'],
  ['mongolian-vowel-separator', '\u180e'],
  ['hangul-filler', '\u3164'],
  ['braille-blank', '\u2800'],
  ['tag-characters', '\u{e0041}\u{e0042}'],
  ['isolates', '\u2066\u2069'],
];

const ROWS: UnicodeRow[] = [
  ...BIDI_CONTROLS.map(([name, char]): UnicodeRow => ({
    name: `${name}-text`,
    field: 'text',
    value: `Price: ${char}1$ 05 and more`,
    expected: 'stored-inert',
  })),
  ...BIDI_CONTROLS.map(([name, char]): UnicodeRow => ({
    name: `${name}-author`,
    field: 'author',
    value: `Ada${char}redaeR`,
    expected: 'stored-inert',
    stored: { author: 'AdaredaeR' },
  })),
  ...INVISIBLE.map(([name, char]): UnicodeRow => ({
    name: `only-${name}-text`,
    field: 'text',
    value: `${char}${char} ${char}`,
    expected: invalid('text'),
  })),
  ...INVISIBLE.map(([name, char]): UnicodeRow => ({
    name: `only-${name}-author`,
    field: 'author',
    value: `${char}${char}`,
    expected: invalid('author'),
  })),
  ...(
    [
      ['zero-width-space', '\u200b'],
      ['word-joiner', '\u2060'],
      ['byte-order-mark', '\ufeff'],
    ] as const
  ).map(([name, char]): UnicodeRow => ({
    name: `${name}-inside-author`,
    field: 'author',
    value: `Ad${char}a Re${char}ader`,
    expected: 'stored-inert',
    stored: { author: 'Ada Reader' },
  })),
  ...(
    [
      ['zero-width-space', 'Zoe\u200b\u0308', 'Zo\u00eb'],
      ['word-joiner', 'Ange\u2060\u0301le', 'Ang\u00e9le'],
      ['soft-hyphen', 'A\u00ad\u030angstr\u00f6m', '\u00c5ngstr\u00f6m'],
      ['left-to-right-mark', 'Jose\u200e\u0301', 'Jos\u00e9'],
    ] as const
  ).map(([name, value, author]): UnicodeRow => ({
    name: `${name}-before-combining-mark-author`,
    field: 'author',
    value,
    expected: 'stored-inert',
    stored: { author },
  })),
  {
    name: 'hebrew-text',
    field: 'text',
    value: 'שלום, זו תגובה עם 3 מספרים.',
    expected: 'stored-inert',
  },
  { name: 'arabic-text', field: 'text', value: 'مرحبا بالعالم ١٢٣ (نص)', expected: 'stored-inert' },
  {
    name: 'mixed-direction-text',
    field: 'text',
    value: 'abc אבג 123 def',
    expected: 'stored-inert',
  },
  { name: 'hebrew-author', field: 'author', value: 'סבטלנה כהן', expected: 'stored-inert' },
  { name: 'arabic-author', field: 'author', value: 'فاطمة الزهراء', expected: 'stored-inert' },
  { name: 'cjk-author', field: 'author', value: '山田 太郎', expected: 'stored-inert' },
  { name: 'zwj-family-text', field: 'text', value: 'Family: 👨‍👩‍👧‍👦', expected: 'stored-inert' },
  { name: 'zwj-profession-author', field: 'author', value: 'Ada 👩🏽‍💻', expected: 'stored-inert' },
  { name: 'rainbow-flag-text', field: 'text', value: 'Flag: 🏳️‍🌈', expected: 'stored-inert' },
  { name: 'tag-flag-text', field: 'text', value: 'Scotland: 🏴󠁧󠁢󠁳󠁣󠁴󠁿', expected: 'stored-inert' },
  {
    name: 'tag-smuggling-text',
    field: 'text',
    value: 'Looks harmless\u{e0049}\u{e0067}\u{e006e}\u{e006f}\u{e0072}\u{e0065}.',
    expected: 'stored-inert',
    visible: ['Looks harmless'],
  },
  {
    name: 'zalgo-text',
    field: 'text',
    value: `Z${'\u0336\u0337\u0321\u0322'.repeat(40)}algo`,
    expected: 'stored-inert',
    visible: ['algo'],
  },
  {
    name: 'zalgo-author',
    field: 'author',
    value: `Z${'\u0336\u0321'.repeat(30)}oe`,
    expected: 'stored-inert',
  },
  { name: 'decomposed-text', field: 'text', value: 'Cafe\u0301 au lait', expected: 'stored-inert' },
  {
    name: 'decomposed-author',
    field: 'author',
    value: 'Zoe\u0308 Reader',
    expected: 'stored-inert',
  },
  {
    name: 'jamo-text',
    field: 'text',
    value: '\u1100\u1161\u11a8 sequence',
    expected: 'stored-inert',
  },
  {
    name: 'angstrom-sign-author',
    field: 'author',
    value: '\u212bngstr\u00f6m',
    expected: 'stored-inert',
  },
  { name: 'ohm-sign-text', field: 'text', value: 'Resistance 5 \u2126', expected: 'stored-inert' },
  {
    name: 'cjk-compatibility-text',
    field: 'text',
    value: 'Ideograph \uf900',
    expected: 'stored-inert',
  },
  {
    name: 'lone-high-surrogate-text',
    field: 'text',
    value: 'bad \ud800 text',
    expected: invalid('text'),
  },
  {
    name: 'lone-low-surrogate-text',
    field: 'text',
    value: 'bad \udc00 text',
    expected: invalid('text'),
  },
  {
    name: 'reversed-pair-text',
    field: 'text',
    value: 'bad \udc00\ud800',
    expected: invalid('text'),
  },
  {
    name: 'trailing-high-surrogate-text',
    field: 'text',
    value: 'ends \ud83d',
    expected: invalid('text'),
  },
  {
    name: 'lone-surrogate-author',
    field: 'author',
    value: 'Ada \ud800',
    expected: invalid('author'),
  },
  {
    name: 'noncharacter-fffe-text',
    field: 'text',
    value: 'non \ufffe char',
    expected: 'stored-inert',
  },
  {
    name: 'noncharacter-ffff-text',
    field: 'text',
    value: 'non \uffff char',
    expected: 'stored-inert',
  },
  {
    name: 'noncharacter-fdd0-text',
    field: 'text',
    value: 'non \ufdd0 char',
    expected: 'stored-inert',
  },
  {
    name: 'noncharacter-astral-text',
    field: 'text',
    value: 'non \u{1fffe} char',
    expected: 'stored-inert',
  },
  {
    name: 'last-code-point-text',
    field: 'text',
    value: 'last \u{10ffff} one',
    expected: 'stored-inert',
  },
  { name: 'noncharacter-author', field: 'author', value: 'Ada \uffff', expected: 'stored-inert' },
  {
    name: 'private-use-text',
    field: 'text',
    value: 'private \ue000 \u{f0000}',
    expected: 'stored-inert',
  },
  {
    name: 'crlf-text',
    field: 'text',
    value: 'line one\r\nline two\r\n\r\npara',
    expected: 'stored-inert',
  },
  { name: 'lone-cr-text', field: 'text', value: 'one\rtwo\r\rthree', expected: 'stored-inert' },
  {
    name: 'line-separator-text',
    field: 'text',
    value: 'one\u2028two\u2029three',
    expected: 'stored-inert',
  },
  {
    name: 'escape-sequence-text',
    field: 'text',
    value: 'red \u001b[31mtext\u001b[0m',
    expected: 'stored-inert',
    visible: ['red', 'text'],
  },
  {
    name: 'bell-backspace-text',
    field: 'text',
    value: 'ding\u0007 back\u0008space',
    expected: 'stored-inert',
    visible: ['ding', 'back', 'space'],
  },
  {
    name: 'nul-text',
    field: 'text',
    value: 'before\u0000after',
    expected: invalid('text'),
  },
  {
    name: 'nul-author',
    field: 'author',
    value: 'Ada\u0000',
    expected: 'stored-inert',
    stored: { author: 'Ada' },
  },
  {
    name: 'crlf-author',
    field: 'author',
    value: 'Ada\r\nApproved: yes',
    expected: 'stored-inert',
    stored: { author: 'Ada Approved: yes' },
  },
  {
    name: 'next-line-author',
    field: 'author',
    value: 'Ada\u0085Reader',
    expected: 'stored-inert',
    stored: { author: 'Ada Reader' },
  },
  {
    name: 'paragraph-separator-author',
    field: 'author',
    value: 'Ada\u2029Reader',
    expected: 'stored-inert',
    stored: { author: 'Ada Reader' },
  },
  {
    name: 'only-controls-author',
    field: 'author',
    value: '\u0000\u001b\r\n',
    expected: invalid('author'),
  },
  {
    name: 'padded-author',
    field: 'author',
    value: '\u00a0 Ada Reader \u3000',
    expected: 'stored-inert',
  },
  {
    name: 'fullwidth-markup-text',
    field: 'text',
    value: '＜script＞alert(1)＜/script＞',
    expected: 'stored-inert',
  },
  {
    name: 'homoglyph-author',
    field: 'author',
    value: 'Аda Rеader (staff)',
    expected: 'stored-inert',
  },
];

export function unicodeCases(): HostileCase[] {
  return ROWS.map((row) => ({
    id: `unicode/${row.name}`,
    kind: 'unicode',
    fields: { [row.field]: row.value },
    expected: row.expected,
    ...(row.stored === undefined ? {} : { stored: row.stored }),
    ...(row.visible === undefined ? {} : { visible: row.visible }),
    ...(row.knownBug === undefined ? {} : { knownBug: row.knownBug }),
  }));
}
