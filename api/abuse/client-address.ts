// The client address that submission rate limits count against. It comes from the TCP peer, or,
// behind a reverse proxy that the operator names, from the header that proxy sets.

/** The key of requests whose address is unknown, such as in-process test requests. */
export const UNKNOWN_ADDRESS = 'unknown';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/** Expands an IPv6 address into its eight 16-bit groups, or returns null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  const withoutZone = address.toLowerCase().replace(/%.*$/, '');
  const halves = withoutZone.split('::');
  if (halves.length > 2) return null;

  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const groups: number[] = [];
    const pieces = part.split(':');
    for (const [index, piece] of pieces.entries()) {
      // The last 32 bits may be written as an IPv4 address: ::ffff:192.0.2.1
      if (index === pieces.length - 1 && IPV4.test(piece)) {
        const bytes = piece.split('.').map(Number);
        groups.push(
          ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0),
          ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0),
        );
        continue;
      }
      if (!HEXTET.test(piece)) return null;
      groups.push(Number.parseInt(piece, 16));
    }
    return groups;
  };

  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/**
 * Returns the rate-limit key of an IP address: an IPv4 address as written (an IPv4-mapped IPv6
 * address counts as its IPv4 address), and an IPv6 address as its /64 network, because one
 * subscriber is usually given a whole /64. Returns null when `address` is not an IP address.
 */
export function addressKey(address: string): string | null {
  const trimmed = address.trim().replace(/^\[(.*)\]$/, '$1');
  if (IPV4.test(trimmed)) return trimmed;
  const groups = ipv6Groups(trimmed);
  if (groups === null) return null;
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** A client's address as sent (null when unknown) and the key its rate limits count under. */
export interface ClientAddress {
  address: string | null;
  key: string;
}

/**
 * Picks the client address of a request. With a proxy header value, its last entry is used,
 * which is the one the nearest proxy wrote (in X-Forwarded-For, earlier entries come from the
 * client and can be forged). When that value is absent or contains no IP address, the socket's
 * address is used, and when that is unknown too, every such request shares UNKNOWN_ADDRESS.
 */
export function resolveClientAddress(
  socketAddress: string | undefined,
  proxyHeaderValue: string | undefined,
): ClientAddress {
  const candidates = [proxyHeaderValue?.split(',').at(-1)?.trim(), socketAddress?.trim()];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    const key = addressKey(candidate);
    if (key !== null) return { address: candidate.replace(/^\[(.*)\]$/, '$1'), key };
  }
  return { address: null, key: UNKNOWN_ADDRESS };
}
