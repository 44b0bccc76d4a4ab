// Server-side verification of a Cloudflare Turnstile token. The token comes with the form in the
// field cf-turnstile-response. The API sends it with the secret key to the siteverify endpoint.
// It accepts the comment only when siteverify reports success for one of the blog's hostnames
// and for the expected action.
import * as v from 'valibot';

/** Form field (and JSON property) that carries the token, as the Turnstile widget names it. */
export const TURNSTILE_FIELD = 'cf-turnstile-response';

/** Cloudflare's siteverify endpoint, for operators to configure; nothing uses it by default. */
export const CLOUDFLARE_SITEVERIFY_URL =
  'https://challenges.cloudflare.com/turnstile/v0/siteverify';

/** Maximum token length siteverify accepts, per Cloudflare's server-side validation documentation. */
export const MAX_TOKEN_LENGTH = 2048;

export interface TurnstileConfig {
  secret: string;
  /** The siteverify endpoint the token is sent to. */
  siteverifyUrl: string;
  /** The action the widget on the comment form is rendered with (data-action). */
  action: string;
  /** Time allowed for the siteverify response, in milliseconds; 10,000 when absent. */
  timeoutMs?: number;
}

export type TurnstileFailure = 'missing' | 'rejected' | 'wrong_hostname' | 'wrong_action';

export type TurnstileOutcome =
  | { ok: true }
  | { ok: false; failure: TurnstileFailure; errorCodes: string[] }
  | { ok: false; failure: 'unavailable'; detail: string };

export interface VerifyTurnstileOptions {
  config: TurnstileConfig;
  token: string | undefined;
  /** The client's address, passed on to siteverify as remoteip when known. */
  remoteIp: string | undefined;
  /** Hostnames of the blog's sites; the token must have been issued on one of them. */
  hostnames: ReadonlySet<string>;
  fetch: typeof fetch;
}

const SiteverifyResponse = v.object({
  success: v.boolean(),
  hostname: v.optional(v.string()),
  action: v.optional(v.string()),
  'error-codes': v.optional(v.array(v.string())),
});

/** Sends the token to siteverify and checks the response; never throws. */
export async function verifyTurnstileToken(
  options: VerifyTurnstileOptions,
): Promise<TurnstileOutcome> {
  const { config, token } = options;
  if (token === undefined || token === '') {
    return { ok: false, failure: 'missing', errorCodes: ['missing-input-response'] };
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    return { ok: false, failure: 'rejected', errorCodes: ['invalid-input-response'] };
  }

  const form = new URLSearchParams({ secret: config.secret, response: token });
  if (options.remoteIp !== undefined) form.set('remoteip', options.remoteIp);
  let body: unknown;
  try {
    const response = await options.fetch(config.siteverifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(config.timeoutMs ?? 10_000),
    });
    if (!response.ok) {
      return {
        ok: false,
        failure: 'unavailable',
        detail: `siteverify returned ${response.status}`,
      };
    }
    body = await response.json();
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { ok: false, failure: 'unavailable', detail };
  }

  const parsed = v.safeParse(SiteverifyResponse, body);
  if (!parsed.success) {
    return { ok: false, failure: 'unavailable', detail: 'siteverify returned an unexpected body' };
  }
  const result = parsed.output;
  const errorCodes = result['error-codes'] ?? [];
  if (!result.success) return { ok: false, failure: 'rejected', errorCodes };
  if (result.hostname === undefined || !options.hostnames.has(result.hostname)) {
    return { ok: false, failure: 'wrong_hostname', errorCodes };
  }
  if (result.action !== config.action) return { ok: false, failure: 'wrong_action', errorCodes };
  return { ok: true };
}

/** States a failed verification for the reader, naming the form field. */
export function turnstileRejection(failure: TurnstileFailure | 'unavailable'): string {
  switch (failure) {
    case 'missing':
      return (
        `The anti-spam check was not completed: the field ${TURNSTILE_FIELD} is missing. ` +
        'Complete the check on the post page, then send the comment again.'
      );
    case 'rejected':
      return (
        `The anti-spam check failed: the ${TURNSTILE_FIELD} token was not accepted. Tokens ` +
        'expire after 5 minutes and work once. Complete the check again, then send the comment.'
      );
    case 'wrong_hostname':
    case 'wrong_action':
      return (
        `The anti-spam check failed: the ${TURNSTILE_FIELD} token was issued for another site ` +
        "or form. Send the comment from the form on the blog's post page."
      );
    case 'unavailable':
      return (
        'The anti-spam check could not be completed, so the comment was not stored. ' +
        'Send it again in a minute.'
      );
  }
}
