/**
 * Headers on every answer of the admin API (issue 21). The operator console is served from
 * here, so every answer, JSON ones included, carries a Content-Security-Policy that allows
 * only this origin's scripts, styles and fetches (no inline script, no other origin, no
 * framing, no form posts, no <base>), and the headers that stop MIME sniffing, framing
 * (clickjacking of the actions) and leaking the URL in Referer.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
});
