/**
 * Calls to the admin API with the token from sessionStorage as `Authorization: Bearer`. No
 * cookies are involved (credentials: 'omit'), so a forged cross-site request carries nothing.
 */
const TOKEN_KEY = 'drproxy.console.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An answer other than 2xx: `message` is the API's own words (`detail`/`message`, and `error`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function authHeaders(token = getToken()): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON: the text itself is the message */
  }
  const code = typeof body.error === 'string' ? body.error : `http_${res.status}`;
  const words = typeof body.detail === 'string' ? body.detail : typeof body.message === 'string' ? body.message : text.trim() || res.statusText;
  const reasons = Array.isArray(body.reasons) ? `: ${body.reasons.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('; ')}` : '';
  return new ApiError(res.status, code, `${words}${reasons}`, body);
}

const MAX_READ_RETRIES = 3;

async function call(method: 'GET' | 'POST', path: string, body?: unknown, token = getToken()): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(token), accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { method, headers, credentials: 'omit', cache: 'no-store', ...(body !== undefined && { body: JSON.stringify(body) }) });
    // Several tabs share a token's rate limit (admin.rate_limit): a read waits as told and
    // tries again; an action never does (the operator sees the 429 and decides).
    if (res.status === 429 && method === 'GET' && attempt < MAX_READ_RETRIES) {
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, Math.min(Number(res.headers.get('retry-after')) || 1, 5) * 1000));
      continue;
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}

export async function getJson<T>(path: string, token?: string | null): Promise<T> {
  return (await (await call('GET', path, undefined, token)).json()) as T;
}

export async function getText(path: string): Promise<string> {
  return (await call('GET', path)).text();
}

/** A POST's status (200, or 202 for a request held for two-person approval) and JSON body. */
export async function postJson(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await call('POST', path, body);
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/** A path segment, escaped (tenant and site names come from the config). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
