// The shape of one hostile input and what the API must do with it. Each family module builds its
// cases from a table, and cases.ts collects them.
import { LIMITS } from '../../api/content/schema.ts';

export const KINDS = [
  'script-html',
  'url-scheme',
  'markdown-dos',
  'yaml-trap',
  'unicode',
  'oversized',
  'wrong-type',
  'path-id',
  'author-url',
] as const;

export type Kind = (typeof KINDS)[number];

/** A rejection: the HTTP status and the field it names (null for a body that cannot be read). */
export interface Rejection {
  status: number;
  field: string | null;
}

/** Either a rejection, or accepted, stored unchanged apart from NFC, and rendered as text. */
export type Expected = Rejection | 'stored-inert';

/** The stored fields a case may expect to differ from what was sent (after NFC). */
export interface StoredFields {
  post: string;
  parent: string | null;
  author: string;
  authorUrl: string | null;
  text: string;
}

export interface HostileCase {
  /** `<kind>/<name>`, unique across the corpus. */
  id: string;
  kind: Kind;
  /**
   * Fields sent on top of baseFields. A field set to undefined is not sent. Any other value,
   * of any JSON type, is sent as it is.
   */
  fields: Record<string, unknown>;
  /** A whole JSON body sent instead of the fields, for bodies that are not one object. */
  rawBody?: string;
  expected: Expected;
  /** Stored values that differ from the sent ones after NFC and trimming (see storedFields). */
  stored?: Partial<StoredFields>;
  /**
   * Text the rendered comment body must show, each fragment compared with white space runs
   * collapsed. Defaults to the whole text for plain-text cases.
   */
  visible?: string[];
  /** The bug that makes this case fail today, for a case kept as `it.fails`. */
  knownBug?: string;
}

/**
 * A valid comment on the harness's open public post; each case changes some of it. The text
 * names the case, so no two cases send the same comment and the API's repeat detection (same
 * post, parent, author, visibility and text within minutes) never merges two of them.
 */
export function baseFields(caseId: string): Record<string, string> {
  return { post: 'hello-world', author: 'Ada Reader', text: `A plain comment for ${caseId}.` };
}

export function rejected(status: number, field: string | null): Rejection {
  return { status, field };
}

/** The schema's rejection of an invalid field value. */
export function invalid(field: string): Rejection {
  return rejected(422, field);
}

/** The comment fields this case sends, with the base fields it does not override. */
export function sentFields(hostile: HostileCase): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...baseFields(hostile.id), ...hostile.fields };
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}

function oneLineValue(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const cleaned = value.normalize('NFC').trim();
  return cleaned === '' ? null : cleaned;
}

/**
 * The values an accepted case is stored with: what was sent after NFC, one-line fields trimmed,
 * empty optional fields absent, then the case's own `stored` overrides.
 */
export function storedFields(hostile: HostileCase): StoredFields {
  const sent = sentFields(hostile);
  const text = typeof sent.text === 'string' ? sent.text.normalize('NFC') : '';
  return {
    post: oneLineValue(sent.post) ?? '',
    parent: oneLineValue(sent.parent),
    author: oneLineValue(sent.author) ?? '',
    authorUrl: oneLineValue(sent.authorUrl),
    text,
    ...hostile.stored,
  };
}

/** Repeats `unit` and cuts the result to exactly `length` UTF-16 code units. */
export function fillTo(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

export const TEXT_LIMIT = LIMITS.text;
