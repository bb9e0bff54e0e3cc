/** A tiny Server-Sent Events reader over undici, as the console page reads GET /events (fetch + stream). */
import { request } from 'undici';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { waitFor } from './poll.js';

export interface SseEvent {
  event: string;
  data: unknown;
  /** Date.now() when it was parsed. */
  at: number;
}

export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: SseEvent[];
  /** `: …` comment lines (pings) with their arrival times. */
  comments: { text: string; at: number }[];
  /** Set once the server ended the stream (cleanly, or with an error). */
  ended: Promise<'end' | 'error'>;
  /** Resolves with the first event (in order, from `from`) that passes `match`. */
  next(match: (e: SseEvent) => boolean, opts?: { timeout?: number; from?: number; what?: string }): Promise<SseEvent>;
  close(): void;
}

/** `gzip`: ask for the compressed stream (as browsers do) and read it through a gunzip. */
export async function openEvents(adminUrl: string, token: string | undefined, path = '/events', opts: { gzip?: boolean } = {}): Promise<SseStream> {
  const ac = new AbortController();
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (opts.gzip) headers['accept-encoding'] = 'gzip';
  const r = await request(`${adminUrl}${path}`, { headers, signal: ac.signal });
  const body: Readable = r.headers['content-encoding'] === 'gzip' ? r.body.pipe(createGunzip()) : r.body;
  const events: SseEvent[] = [];
  const comments: { text: string; at: number }[] = [];
  let buf = '';
  const parse = (block: string) => {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push({ text: line.slice(1).trim(), at: Date.now() });
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')), at: Date.now() });
  };
  body.setEncoding('utf8');
  body.on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n')) {
      parse(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
  });
  const ended = new Promise<'end' | 'error'>((resolve) => {
    body.once('end', () => resolve('end'));
    body.once('error', () => resolve('error'));
  });
  return {
    status: r.statusCode,
    headers: r.headers,
    events,
    comments,
    ended,
    next(match, { timeout = 10_000, from = 0, what = 'an event' } = {}) {
      return waitFor(() => events.slice(from).find(match), { timeout, what });
    },
    close() {
      ac.abort();
      r.body.destroy();
      body.destroy();
    },
  };
}
