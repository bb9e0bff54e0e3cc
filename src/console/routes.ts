/**
 * The admin API's endpoints for the operator console (contract.ts): the page and its files
 * without a token (they hold nothing: the page asks for one), and for a viewer token
 * /whoami, /fleet and /events. They take the admin server's whole path (rate limit, Host
 * check, auth, audit, security headers on every answer: server.ts); the files are not audited
 * (like /metrics), the rest are, /events once per stream.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { AdminApi } from '../admin/api.js';
import { HttpError } from '../admin/http-error.js';
import { Reply, StreamReply } from '../admin/reply.js';
import type { Ctx, Route } from '../admin/routes.js';
import { notModified } from './assets.js';
import type { ProxyConsole } from './wire.js';

const ASSET_PREFIX = '/console/';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Smaller answers are not worth compressing. */
const GZIP_FROM = 8 * 1024;
const gzipAsync = promisify(gzip);

/** Whether Accept-Encoding allows gzip (not `gzip;q=0`). */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((x) => x.trim()).find((x) => x.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

export function consoleRoutes(api: AdminApi): Route[] {
  const consoleOf = (): ProxyConsole => {
    const c = api.console?.();
    if (!c) throw new HttpError(404, 'not_found', 'this proxy serves no operator console');
    return c;
  };
  const file = (ctx: Ctx, name: string): Reply => {
    const assets = consoleOf().assets;
    const a = assets.get(name);
    if (!a) {
      if (assets.get('index.html') === undefined) throw new HttpError(404, 'not_found', `the operator console is not built: no index.html in ${assets.dir} (npm run build)`);
      throw new HttpError(404, 'not_found', `no console file ${ctx.path}`);
    }
    const headers = { etag: a.etag, 'cache-control': 'no-cache' };
    if (notModified(ctx.req.headers['if-none-match'], a.etag)) return new Reply(304, '', a.type, headers);
    return new Reply(200, a.body, a.type, headers);
  };
  return [
    { method: 'GET', pattern: /^\/$/, role: undefined, action: 'console', quiet: true, handle: (ctx) => file(ctx, 'index.html') },
    // The name is taken from the path as sent, never decoded: only exact names of the allow-list match.
    { method: 'GET', pattern: /^\/console\/./, role: undefined, action: 'console_file', quiet: true, handle: (ctx) => file(ctx, ctx.path.slice(ASSET_PREFIX.length)) },
    {
      method: 'GET',
      pattern: /^\/whoami$/,
      role: 'viewer',
      action: 'whoami',
      handle: (ctx) => ({ name: ctx.principal!.name, role: ctx.principal!.role }),
    },
    {
      method: 'GET',
      pattern: /^\/fleet$/,
      role: 'viewer',
      action: 'fleet',
      // Compact JSON (not the indented JSON of other answers), gzipped off the main thread when
      // the client takes it: 5,000 tenants are ~1.3 MB of JSON, ~20 KB gzipped (docs/console.md).
      handle: async (ctx) => {
        const text = JSON.stringify(consoleOf().snapshot());
        if (text.length < GZIP_FROM || !acceptsGzip(ctx.req.headers['accept-encoding'])) return new Reply(200, text, JSON_TYPE, { vary: 'accept-encoding' });
        return new Reply(200, await gzipAsync(text), JSON_TYPE, { 'content-encoding': 'gzip', vary: 'accept-encoding' });
      },
    },
    {
      method: 'GET',
      pattern: /^\/events$/,
      role: 'viewer',
      action: 'events',
      handle: () => {
        const c = consoleOf();
        c.admitStream();
        return new StreamReply((req, res) => {
          if (req.method === 'HEAD') {
            res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
            res.end();
            return;
          }
          c.feed.attach(res, acceptsGzip(req.headers['accept-encoding']));
        });
      },
    },
  ];
}
