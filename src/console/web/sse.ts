/**
 * A Server-Sent Events frame parser (the WHATWG event-stream rules), fed decoded text chunks
 * as they arrive from fetch()'s stream reader: EventSource cannot send an Authorization
 * header, so the page reads /events itself. Pure: unit-tested in test/console-sse.test.ts.
 */
export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string;
  data: string;
  /** Last `id:` seen (sticky, as the spec says). */
  id: string;
}

export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private lastId = '';
  private started = false;
  /** A chunk ended with CR: an LF starting the next chunk belongs to the same line end. */
  private pendingCr = false;
  /** `retry:` in ms, when the server sent one. */
  retry: number | undefined;

  /** Feeds a chunk; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buf += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buf.slice(start, i);
      if (c === 13) {
        if (i + 1 === this.buf.length) this.pendingCr = true;
        else if (this.buf.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined; // a comment (the server's keep-alive ping)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default: // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const event = this.event;
    const data = this.data;
    this.event = '';
    this.data = [];
    if (data.length === 0) return undefined;
    return { event: event === '' ? 'message' : event, data: data.join('\n'), id: this.lastId };
  }
}

/**
 * Wait before reconnect attempt `attempt` (0-based): doubling from `base`, capped at `max`,
 * with up to 20% jitter taken off (`rand` in [0,1)) so that many pages do not reconnect at once.
 */
export function backoffMs(attempt: number, rand: number, base = 250, max = 10_000): number {
  const raw = Math.min(max, base * 2 ** Math.min(attempt, 20));
  return Math.round(raw * (1 - 0.2 * rand));
}
