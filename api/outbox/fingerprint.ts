import { createHash } from 'node:crypto';

/** Fields that make two submissions the same comment. */
export interface FingerprintFields {
  post: string;
  /** The comment replied to; the same text in reply to another comment is another comment. */
  parent: string | null;
  author: string;
  /** A resubmission with another website is another comment, so the new address is kept. */
  authorUrl: string | null;
  /** The same text posted once internal and once public is two comments. */
  visibility: string;
  body: string;
}

/** Hashes the fields that make two submissions the same comment. */
export function commentFingerprint(fields: FingerprintFields): string {
  const { post, parent, author, authorUrl, visibility, body } = fields;
  return createHash('sha256')
    .update(JSON.stringify([post, parent, author, authorUrl, visibility, body]))
    .digest('hex');
}
