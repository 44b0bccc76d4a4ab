// Fields sent as JSON types other than a string, or empty, and bodies that are not one object.
import { invalid, rejected, type Expected, type HostileCase } from '../hostile-case.ts';

const REQUIRED = ['post', 'author', 'text'] as const;
const OPTIONAL = ['parent', 'authorUrl', 'visibility', 'returnTo', 'idempotencyKey'] as const;

/** Values that are not text: each must be rejected with the field's name. */
const NOT_TEXT: Array<[name: string, value: unknown]> = [
  ['number', 42],
  ['float', 1.5],
  ['true', true],
  ['false', false],
  ['empty-array', []],
  ['string-array', ['hello-world']],
  ['empty-object', {}],
  ['object', { toString: 'x', valueOf: 1 }],
];

/** Values that count as "not sent": required fields then are missing, optional ones absent. */
const ABSENT: Array<[name: string, value: unknown]> = [
  ['null', null],
  ['empty-string', ''],
  ['spaces', '   '],
];

/** Bodies that are not one JSON object with the fields. */
const BODIES: Array<[name: string, body: string]> = [
  ['array-body', '[{"post":"hello-world","author":"Ada","text":"x"}]'],
  ['string-body', '"post=hello-world"'],
  ['number-body', '42'],
  ['null-body', 'null'],
  ['true-body', 'true'],
  ['truncated-body', '{"post":"hello-world","author":'],
  ['empty-body', ''],
  ['trailing-garbage-body', '{"post":"hello-world","author":"Ada","text":"x"} tail'],
  ['single-quoted-body', "{'post':'hello-world','author':'Ada','text':'x'}"],
  ['nan-body', '{"post":"hello-world","author":"Ada","text":NaN}'],
];

function absentExpectation(field: string, value: unknown): Expected {
  const required = REQUIRED.some((name) => name === field);
  // Spaces are removed from one-line fields only; a text of spaces is sent but empty.
  if (field === 'text' && value === '   ') return invalid('text');
  return required ? invalid(field) : 'stored-inert';
}

export function wrongTypeCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const field of [...REQUIRED, ...OPTIONAL]) {
    for (const [name, value] of NOT_TEXT) {
      cases.push({
        id: `wrong-type/${field}-${name}`,
        kind: 'wrong-type',
        fields: { [field]: value },
        expected: invalid(field),
      });
    }
    for (const [name, value] of ABSENT) {
      cases.push({
        id: `wrong-type/${field}-${name}`,
        kind: 'wrong-type',
        fields: { [field]: value },
        expected: absentExpectation(field, value),
      });
    }
    if (REQUIRED.some((name) => name === field)) {
      cases.push({
        id: `wrong-type/${field}-missing`,
        kind: 'wrong-type',
        fields: { [field]: undefined },
        expected: invalid(field),
      });
    }
  }
  for (const [name, body] of BODIES) {
    cases.push({
      id: `wrong-type/${name}`,
      kind: 'wrong-type',
      fields: {},
      rawBody: body,
      expected: rejected(400, null),
    });
  }
  return cases;
}
