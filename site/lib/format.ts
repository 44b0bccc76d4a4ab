const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'long',
  timeStyle: 'short',
  timeZone: 'UTC',
});

/** Formats a post date (2026-12-04 or a UTC timestamp) as "4 December 2026". */
export function formatDate(value: string): string {
  return dateFormat.format(new Date(value));
}

/** Formats a comment's UTC timestamp as "4 December 2026 at 15:51 UTC". */
export function formatDateTime(value: string): string {
  return `${dateTimeFormat.format(new Date(value))} UTC`;
}
