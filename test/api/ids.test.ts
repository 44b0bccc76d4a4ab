import { describe, expect, it } from 'vitest';
import { ID_PATTERN } from '../../api/content/schema.ts';
import { createIdGenerator } from '../../api/platform/ids.ts';

describe('comment ids', () => {
  it('are 26 lowercase Crockford base32 characters', () => {
    const id = createIdGenerator({ now: () => new Date() }).commentId();
    expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    expect(ID_PATTERN.test(id)).toBe(true);
  });

  it('encode the time in the first ten characters', () => {
    const ids = createIdGenerator({ now: () => new Date(1_469_918_176_385) });
    expect(ids.commentId().slice(0, 10)).toBe('01aryz6s41');
  });

  it('sort in creation order within one millisecond', () => {
    const ids = createIdGenerator({
      now: () => new Date(0),
      random: (size) => new Uint8Array(size),
    });
    const generated = Array.from({ length: 100 }, () => ids.commentId());
    expect([...generated].sort()).toEqual(generated);
    expect(new Set(generated).size).toBe(100);
  });

  it('sort in creation order across milliseconds', () => {
    let time = 1_700_000_000_000;
    const ids = createIdGenerator({ now: () => new Date(time) });
    const generated = Array.from({ length: 50 }, () => {
      time += 1;
      return ids.commentId();
    });
    expect([...generated].sort()).toEqual(generated);
  });

  it('keep their order when the clock steps back', () => {
    let time = 2_000;
    const ids = createIdGenerator({ now: () => new Date(time) });
    const first = ids.commentId();
    time = 1_000;
    expect(ids.commentId() > first).toBe(true);
  });
});
