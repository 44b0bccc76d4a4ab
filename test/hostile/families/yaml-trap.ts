// Names and texts that YAML would turn into another type, a reference or a second document if
// the comment file's writer or reader let it, and bodies that look like front matter.
import type { HostileCase } from '../hostile-case.ts';

/**
 * One-line values, sent both as the name and as the whole text. `visible` is what the text shows
 * once rendered as markdown, when that is not the value itself.
 */
const SCALARS: Array<[name: string, value: string, visible?: string[]]> = [
  ['document-start', '---', []],
  ['document-end', '...'],
  ['yes', 'yes'],
  ['capital-no', 'No'],
  ['on', 'on'],
  ['upper-off', 'OFF'],
  ['y', 'y'],
  ['true', 'true'],
  ['null', 'null'],
  ['capital-null', 'Null'],
  ['tilde', '~'],
  ['octal', '0o17'],
  ['legacy-octal', '017'],
  ['hex', '0x1F'],
  ['exponent', '1e3'],
  ['float', '3.14'],
  ['infinity', '.inf'],
  ['not-a-number', '.NaN'],
  ['date', '2024-01-01'],
  ['timestamp', '2024-01-01T00:00:00Z'],
  ['sexagesimal', '1:20'],
  ['anchor', '&anchor value'],
  ['alias', '*anchor'],
  ['merge-key', '<<: *base'],
  ['python-tag', '!!python/object/apply:os.system ["id"]'],
  ['js-function-tag', '!!js/function "function(){return 1}"'],
  ['local-tag', '!secret value'],
  ['flow-sequence', '[a, b]'],
  ['flow-mapping', '{a: 1}'],
  ['key-value', 'author: Mallory'],
  ['complex-key', '? key'],
  ['literal-block', '|'],
  ['folded-block', '>-', []],
  ['comment', '# not a comment', ['not a comment']],
  ['directive', '%YAML 1.2'],
  ['double-quoted', '"quoted"'],
  ['single-quoted', "'single'"],
  ['empty-quotes', '""'],
  ['reserved-at', '@handle'],
  ['backtick', '`cmd`', ['cmd']],
  ['trailing-colon', 'Ada:'],
  ['sequence-item', '- item', ['item']],
  ['escaped-newline', 'a\\nb'],
  ['unicode-escape', '\\u0041'],
];

/** Texts of several lines that a front matter reader could take for a header. */
const BODIES: Array<[name: string, text: string, visible: string[]]> = [
  [
    'front-matter-block',
    '---\nid: injected\nvisibility: internal\n---\nbody',
    ['id: injected', 'visibility: internal', 'body'],
  ],
  ['front-matter-only', '---\nauthor: Mallory\n---\n', ['author: Mallory']],
  ['js-engine', '---js\nmodule.exports = { pwned: true }\n---\nbody', ['---js', 'pwned: true']],
  ['javascript-engine', '---javascript\n__pwned(1)\n---\nbody', ['---javascript', '__pwned(1)']],
  ['coffee-engine', '---coffee\n__pwned 1\n---\nbody', ['---coffee', '__pwned 1']],
  ['toml-block', '+++\nauthor = "Mallory"\n+++\nbody', ['+++ author = "Mallory" +++ body']],
  ['json-block', ';;;\n{"author": "Mallory"}\n;;;\nbody', [';;; {"author": "Mallory"} ;;; body']],
  ['byte-order-mark-start', '\ufeff---\nid: injected\n---\nbody', ['id: injected', 'body']],
  ['crlf-front-matter', '---\r\nid: injected\r\n---\r\nbody', ['id: injected', 'body']],
  ['second-document', 'body\n---\nid: injected\n...\n', ['body', 'id: injected', '...']],
  ['anchor-bomb', 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]', ['d: [*c,*c]']],
];

export function yamlTrapCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const [name, value, visible] of SCALARS) {
    cases.push({
      id: `yaml-trap/${name}-author`,
      kind: 'yaml-trap',
      fields: { author: value },
      expected: 'stored-inert',
    });
    cases.push({
      id: `yaml-trap/${name}-text`,
      kind: 'yaml-trap',
      fields: { text: value },
      expected: 'stored-inert',
      visible: visible ?? [value],
    });
  }
  for (const [name, text, visible] of BODIES) {
    cases.push({
      id: `yaml-trap/${name}-text`,
      kind: 'yaml-trap',
      fields: { text },
      expected: 'stored-inert',
      visible,
    });
  }
  return cases;
}
