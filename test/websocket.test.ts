import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';

let up: Upstream;
let p: TestProxy;

beforeAll(async () => {
  up = await startUpstream('ws1');
  p = await startProxy({
    tenants: { chat: { tier: 'BC', hosts: ['chat.example.com'], sites: [{ name: 'ws1', backends: [up.url] }] } },
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

function open(host: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/socket`, { headers: { host } });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

describe('WebSocket through the proxy', () => {
  it('echoes messages both ways and stamps the epoch on the upgrade request', async () => {
    const ws = await open('chat.example.com');
    const replies: string[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (d) => {
        replies.push(d.toString());
        if (replies.length === 3) resolve();
      }),
    );
    for (const m of ['one', 'two', 'three']) ws.send(m);
    await got;
    expect(replies).toEqual(['ws1:one', 'ws1:two', 'ws1:three']);
    ws.close();
    const seen = (await up.stats()).lastHeaders!;
    expect(seen['x-dr-epoch']).toBe('1');
    expect(seen['x-dr-site']).toBe('ws1');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('refuses an upgrade for an unknown host with 421', async () => {
    await expect(open('nope.example.com')).rejects.toThrow(/status 421/);
  });
});
