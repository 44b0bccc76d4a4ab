import { createHash } from 'node:crypto';

/** Hashes what makes two submissions the same comment: post, author and text. */
export function commentFingerprint(post: string, author: string, body: string): string {
  return createHash('sha256')
    .update(JSON.stringify([post, author, body]))
    .digest('hex');
}
