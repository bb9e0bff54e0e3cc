/**
 * The live feed: GET /events read with fetch() and a stream reader (EventSource cannot send
 * Authorization), parsed by SseParser, reconnected with back-off. A refused token stops it.
 */
import { authHeaders } from './api.js';
import { backoffMs, SseParser, type SseEvent } from './sse.js';

export type LiveState = { kind: 'connecting' } | { kind: 'live' } | { kind: 'retrying'; inMs: number; why: string } | { kind: 'refused'; status: number };

export interface LiveOptions {
  url: string;
  onEvent(ev: SseEvent): void;
  onState(s: LiveState): void;
}

export class LiveFeed {
  private abort: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private stopped = false;

  constructor(private readonly o: LiveOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private async connect(): Promise<void> {
    this.abort = new AbortController();
    this.o.onState({ kind: 'connecting' });
    let why = 'stream ended';
    try {
      const res = await fetch(this.o.url, { headers: { ...authHeaders(), accept: 'text/event-stream' }, credentials: 'omit', cache: 'no-store', signal: this.abort.signal });
      if (res.status === 401 || res.status === 403) {
        this.o.onState({ kind: 'refused', status: res.status });
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      await this.read(res.body);
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
    if (this.stopped) return;
    const inMs = backoffMs(this.attempt++, Math.random());
    this.o.onState({ kind: 'retrying', inMs, why });
    this.timer = setTimeout(() => void this.connect(), inMs);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
        if (ev.event === 'snapshot') {
          this.attempt = 0; // a stream that delivered its snapshot counts as a success
          this.o.onState({ kind: 'live' });
        }
        this.o.onEvent(ev);
      }
    }
  }
}
