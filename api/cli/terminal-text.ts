// Makes text from readers safe to print on a staff member's terminal. A comment's author and text
// are arbitrary input, and control characters in them (ESC sequences, a bare carriage return,
// backspace) would otherwise let a reader move the cursor, rewrite lines already printed, or
// change the terminal's settings.

/** Control characters except tab and line feed, which multi-line text keeps. */
const CONTROL_IN_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/gu;
/** Every control character, for text printed on one line. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu;

function escapeControl(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * Returns `text` with every control character written as a visible `\uXXXX` escape. Line feeds
 * and tabs are kept when `multiline` is true, and CRLF line endings are printed as line feeds.
 */
export function terminalText(text: string, options: { multiline: boolean }): string {
  const lines = options.multiline ? text.replace(/\r\n/g, '\n') : text;
  return lines.replace(options.multiline ? CONTROL_IN_LINES : CONTROL, escapeControl);
}
