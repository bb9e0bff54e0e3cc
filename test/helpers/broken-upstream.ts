/**
 * drproxy in front of one scripted raw upstream (scripted-upstream.ts), for tests of what the
 * client gets when the upstream answers badly. One tenant (`t.example.com`), one site, no
 * failover, no passive ejection: drproxy's own answer to each broken reply shows as it is.
 */
import type net from 'node:net';
import { expect } from 'vitest';
import { startProxy, type TestProxy } from './proxy.js';
import { rawExchange, type RawExchange } from './raw-framing-client.js';
import { startScriptedUpstream, type ReceivedRequest, type ScriptedUpstream } from './scripted-upstream.js';

export const HOST = 't.example.com';

export interface BrokenUpstreamSetup {
  up: ScriptedUpstream;
  p: TestProxy;
  /** Make the upstream answer `path` with these exact bytes (or run this function on its socket). */
  script(path: string, answer: string | Buffer | ((socket: net.Socket) => void)): void;
  /** Send a request for `path` through drproxy on a new raw connection and read the answer. */
  ask(path: string, opts?: AskOptions): Promise<RawExchange>;
  /** Requests the upstream received for `path`. */
  received(path: string): ReceivedRequest[];
  /** drproxy still answers: a fresh request to a healthy path gets its 200. */
  stillServing(): Promise<void>;
  stop(): Promise<void>;
}

export interface AskOptions {
  method?: string;
  /** '1.1' (default) or '1.0'. */
  version?: string;
  /** Extra header lines, e.g. ['expect: 100-continue']. */
  headers?: string[];
  body?: string;
  timeoutMs?: number;
  /** Called with everything received so far, at each arrival. */
  onData?: (raw: string) => void;
}

export function requestText(path: string, { method = 'GET', version = '1.1', headers = [], body }: AskOptions = {}): string {
  const lines = [`${method} ${path} HTTP/${version}`, `host: ${HOST}`, ...headers];
  if (body !== undefined) lines.push(`content-length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

export async function startBrokenUpstream(proxy: Record<string, unknown> = {}): Promise<BrokenUpstreamSetup> {
  const up = await startScriptedUpstream();
  const p = await startProxy({
    defaults: {
      health_check: { interval: '30s', timeout: '1s' },
      passive_health: { consecutive_failures: 0 },
      proxy,
    },
    tenants: { t: { tier: 'BC', hosts: [HOST], sites: [{ name: 's1', backends: [up.url] }] } },
  });
  const script: BrokenUpstreamSetup['script'] = (path, answer) =>
    up.on(path, (socket) => (typeof answer === 'function' ? answer(socket) : socket.write(answer)));
  script('/ok', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  return {
    up,
    p,
    script,
    ask: (path, opts = {}) => rawExchange(p.port, requestText(path, opts), { timeoutMs: opts.timeoutMs ?? 5000, method: opts.method ?? 'GET', onData: opts.onData }),
    received: (path) => up.received.filter((r) => r.path === path),
    async stillServing() {
      const r = await rawExchange(p.port, requestText('/ok'));
      expect(r.final?.statusLine).toBe('HTTP/1.1 200 OK');
      expect(r.final?.body.toString()).toBe('ok');
      expect(r.ended).toBe('open');
    },
    async stop() {
      await p.stop();
      await up.close();
    },
  };
}

/** Assert drproxy's own error answer: status line, error code, a complete length-framed body. */
export function expectOwnError(r: RawExchange, status: string, code: string): void {
  expect(r.messages.length, r.raw).toBe(1);
  expect(r.final?.statusLine).toBe(`HTTP/1.1 ${status}`);
  expect(r.header('x-drproxy-error')).toBe(code);
  expect(r.final?.framing).toBe('length');
  expect(r.final?.complete).toBe(true);
  // The client connection stays usable after drproxy's own answer.
  expect(r.ended).toBe('open');
}
