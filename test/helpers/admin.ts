/** Calls to the admin API for tests. */
import { request } from 'undici';

export const OPERATOR = 'operator-secret-0123456789';
export const VIEWER = 'viewer-secret-0123456789';

/** Admin section with an operator and a viewer token (set in the environment here). */
export function adminTokens(): Record<string, unknown> {
  process.env.DRP_TEST_OPERATOR = OPERATOR;
  process.env.DRP_TEST_VIEWER = VIEWER;
  return {
    tokens: [
      { name: 'ops', role: 'operator', token_env: 'DRP_TEST_OPERATOR' },
      { name: 'grafana', role: 'viewer', token_env: 'DRP_TEST_VIEWER' },
    ],
  };
}

export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function admin(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { token?: string; body?: unknown; contentType?: string } = {},
): Promise<AdminAnswer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (method === 'POST') headers['content-type'] = opts.contentType ?? 'application/json';
  const r = await request(`${base}${path}`, {
    method,
    headers,
    ...(method === 'POST' && { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body ?? {}) }),
  });
  const text = await r.body.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON (metrics) */
  }
  return { status: r.statusCode, body, headers: r.headers, text };
}
