// A form field that people never see and spam scripts fill in. The comment form hides it off
// screen, out of the tab order and from assistive technology, with a label asking to leave it
// empty. A submission that fills it gets the usual "received" response, and nothing is stored.
//
// The name avoids every word that browser autofill and password managers map to a saved value
// (name, email, mail, url, website, phone, tel, address, company, user, login), so that autofill
// leaves it empty. The form also sets autocomplete="off" on it.

/** Name of the hidden field, in the form and in JSON bodies. */
export const HONEYPOT_FIELD = 'marginalia_leave_blank';

/** Returns true when the hidden field contains anything other than white space. */
export function isHoneypotFilled(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}
