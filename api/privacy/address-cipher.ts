// Encryption of reader email addresses with AES-256-GCM through WebCrypto, which both Node and
// Cloudflare Workers provide. Each record gets a fresh random 96-bit IV, and the comment id is the
// associated data, so a record copied onto another comment fails to decrypt.
import type { SealedAddress } from '../outbox/types.ts';

/** IV length in bytes: 96 bits, the size GCM is specified for. */
export const IV_BYTES = 12;
const TAG_BITS = 128;

export interface AddressCipher {
  /** Encrypts `address` for the comment `commentId`. */
  seal(commentId: string, address: string): Promise<SealedAddress>;
  /** Decrypts a record; raises when the key, the comment id or the record does not match. */
  open(commentId: string, sealed: SealedAddress): Promise<string>;
}

/** Raised when a record cannot be decrypted; the message names the comment, never the data. */
export class AddressDecryptError extends Error {
  readonly commentId: string;

  constructor(commentId: string) {
    super(
      `the stored email address of comment ${commentId} could not be decrypted: the key ` +
        'differs from the one it was stored with, or the record was altered',
    );
    this.name = 'AddressDecryptError';
    this.commentId = commentId;
  }
}

export interface AddressCipherOptions {
  /** The 32-byte AES-256 key. */
  key: Uint8Array<ArrayBuffer>;
  /** Fills a new IV; crypto.getRandomValues when absent. */
  randomIv?: () => Uint8Array<ArrayBuffer>;
}

const encoder = new TextEncoder();

export function createAddressCipher(options: AddressCipherOptions): AddressCipher {
  if (options.key.byteLength !== 32) {
    throw new RangeError(`the email key must be 32 bytes, not ${options.key.byteLength}`);
  }
  // The key is imported once, on first use, and cannot be exported again.
  const imported = crypto.subtle.importKey('raw', options.key, 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ]);
  const randomIv = options.randomIv ?? (() => crypto.getRandomValues(new Uint8Array(IV_BYTES)));

  return {
    async seal(commentId, address) {
      const iv = randomIv();
      const parameters = {
        name: 'AES-GCM',
        iv,
        additionalData: encoder.encode(commentId),
        tagLength: TAG_BITS,
      };
      const ciphertext = await crypto.subtle.encrypt(
        parameters,
        await imported,
        encoder.encode(address),
      );
      return { iv, ciphertext: new Uint8Array(ciphertext) };
    },
    async open(commentId, sealed) {
      const parameters = {
        name: 'AES-GCM',
        iv: new Uint8Array(sealed.iv),
        additionalData: encoder.encode(commentId),
        tagLength: TAG_BITS,
      };
      let plaintext: ArrayBuffer;
      try {
        plaintext = await crypto.subtle.decrypt(
          parameters,
          await imported,
          new Uint8Array(sealed.ciphertext),
        );
      } catch {
        throw new AddressDecryptError(commentId);
      }
      return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
    },
  };
}
