/**
 * One GET /events client: writes Server-Sent Events text to its response, and never buffers
 * more than a bound for it. A client that reads slower than the fleet changes (a phone on a
 * bad link, a stopped tab) would otherwise make Node keep every event for it in memory. Past
 * `maxBuffered` bytes not yet taken by its socket, the client is *behind*: nothing more is
 * written to it; once its socket has taken the backlog below the bound, it gets one fresh
 * `snapshot` (a resync: the page replaces its whole view) and is live again. A client behind
 * for longer than `stallMs` is dropped (the page reconnects and gets a snapshot). So memory
 * per client stays within maxBuffered plus one event.
 *
 * A client that takes gzip gets the stream compressed, each write flushed (Z_SYNC_FLUSH) so that
 * every event reaches the page at once: a 5,000-tenant snapshot is ~1.3 MB of JSON, ~20 KB gzipped.
 */
import type { ServerResponse } from 'node:http';
import { constants, createGzip, type Gzip } from 'node:zlib';

export interface SseLimits {
  /** Bytes written to a client and not yet taken by its socket, past which it is behind. */
  maxBuffered: number;
  /** A client behind this long is dropped. */
  stallMs: number;
}

export class SseClient {
  /** When it fell behind; 0 while live. */
  private behindSince = 0;
  private ended = false;
  /** Fresh snapshots sent because it had fallen behind. */
  resyncs = 0;
  /** Most bytes seen waiting for its socket (tests, metrics). */
  peakBuffered = 0;

  /** The compressor between the events and the response, when the client takes gzip. */
  private readonly gzip: Gzip | undefined;

  constructor(
    readonly res: ServerResponse,
    private readonly limits: SseLimits,
    gzip = false,
  ) {
    if (gzip) {
      this.gzip = createGzip({ flush: constants.Z_SYNC_FLUSH });
      this.gzip.pipe(res);
      // A compression error (out of memory) ends this stream only; the page reconnects.
      this.gzip.once('error', () => res.destroy());
    }
    res.once('close', () => {
      this.ended = true;
      this.gzip?.destroy();
    });
  }

  get closed(): boolean {
    return this.ended || this.res.destroyed;
  }

  get behind(): boolean {
    return this.behindSince !== 0;
  }

  /** Bytes waiting for this client's socket (with gzip: also those waiting in the compressor). */
  get buffered(): number {
    const z = this.gzip;
    return z === undefined ? this.res.writableLength : z.writableLength + z.readableLength + this.res.writableLength;
  }

  /** Writes one event (or comment) unless the client is behind; false when it was not written. */
  send(text: string, now: number): boolean {
    if (this.closed || this.behindSince !== 0) return false;
    if (this.buffered > this.limits.maxBuffered) {
      this.behindSince = now;
      return false;
    }
    (this.gzip ?? this.res).write(text);
    this.peakBuffered = Math.max(this.peakBuffered, this.buffered);
    return true;
  }

  /**
   * Called at each tick for a client behind: resynced with `snapshot()` once its backlog has
   * drained below the bound, dropped once it has been behind past stallMs. Returns false when dropped.
   */
  catchUp(now: number, snapshot: () => string): boolean {
    if (this.closed) return false;
    if (this.behindSince === 0) return true;
    if (this.buffered <= this.limits.maxBuffered / 2) {
      this.behindSince = 0;
      this.resyncs++;
      return this.send(snapshot(), now) || !this.closed;
    }
    if (now - this.behindSince > this.limits.stallMs) {
      this.res.destroy();
      return false;
    }
    return true;
  }

  /** Ends the stream cleanly (the last chunk, then the connection may close). */
  end(): void {
    if (this.closed) return;
    this.ended = true;
    (this.gzip ?? this.res).end();
  }
}

/** One SSE event: `event:` and a one-line JSON `data:` (JSON has no raw newlines). */
export function sseEvent(name: string, json: string): string {
  return `event: ${name}\ndata: ${json}\n\n`;
}
