/**
 * A strict, bounded reader of one HTTP/1.1 answer to a health-check probe (probe-client.ts).
 *
 * It reads only what a probe needs: the status, the framing headers and the body's bytes. It
 * accepts less than a general client does, on purpose: a backend that answers a probe with
 * anything odd (obs-fold, two Content-Lengths, Transfer-Encoding other than chunked, chunk
 * extensions, trailers, bytes after the answer, a head or body over its bound) fails the probe
 * and loses its connection. A healthy backend's health endpoint never needs that leniency, and
 * a hostile one cannot use it. Memory is bounded by MAX_HEAD (the head is kept until complete)
 * and the body is passed on in slices, never accumulated here.
 */
import { badResponse, HeadFields, scanHead } from './probe-head.js';

/** The longest head (status line and headers) accepted. */
export const MAX_HEAD = 16 * 1024;
/** The longest body read to its end; a longer one fails the probe (a health answer is small). */
export const MAX_BODY = 1024 * 1024;
/** Interim (1xx) answers skipped before the final one, at most. */
const MAX_INTERIM = 4;

const CHUNK_SIZE = /^[0-9A-Fa-f]{1,8}$/;

/** What the reader hands on (ProbeConnection). */
export interface ResponseSink {
  /** The final answer's status (interim 1xx answers are skipped). */
  onStatus(status: number): void;
  /** Body bytes, as they come: chunk[from, to) of the socket's chunk (sliced only if wanted). */
  onBody(chunk: Buffer, from: number, to: number): void;
  /** The answer is complete; `keepAlive`: its connection may carry the next probe. */
  onDone(keepAlive: boolean): void;
}

export { badResponse };

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  LastChunkEnd,
  UntilClose,
  Done,
}

const CRLF2 = Buffer.from('\r\n\r\n');

export class ResponseReader {
  private state = State.Head;
  /** The head's bytes so far, while it spans several reads. */
  private pending: Buffer | undefined;
  private remaining = 0;
  private bodyBytes = 0;
  private keepAlive = true;
  private interim = 0;
  /** The chunk-size line's bytes so far (it may span reads). */
  private line = '';
  private noBody = false;
  /** The last head read (reused: no object per answer). */
  private readonly head = new HeadFields();

  /** Ready for the next answer; `noBody`: the request was a HEAD. */
  reset(noBody: boolean): void {
    this.state = State.Head;
    this.pending = undefined;
    this.remaining = 0;
    this.bodyBytes = 0;
    this.keepAlive = true;
    this.interim = 0;
    this.line = '';
    this.noBody = noBody;
  }

  /** Whether no byte of the answer has been read yet. */
  get untouched(): boolean {
    return this.state === State.Head && this.pending === undefined && this.interim === 0;
  }

  /** Bytes from the socket. Throws badResponse on anything this reader does not accept. */
  feed(chunk: Buffer, sink: ResponseSink): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(chunk, at, sink);
          break;
        case State.Length:
        case State.UntilClose:
          at = this.readBody(chunk, at, sink);
          break;
        case State.ChunkSize:
          at = this.readChunkSize(chunk, at);
          break;
        case State.ChunkData:
          at = this.readBody(chunk, at, sink);
          break;
        case State.ChunkEnd:
        case State.LastChunkEnd:
          at = this.readCrlf(chunk, at, sink);
          break;
        case State.Done:
          throw badResponse('bytes after the end of the answer');
      }
    }
  }

  /** The connection ended: the end of a body read until close, or an answer cut short. */
  end(sink: ResponseSink): void {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      sink.onDone(false);
      return;
    }
    throw badResponse(this.state === State.Head && this.pending === undefined ? 'connection closed before any answer' : 'connection closed before the end of the answer');
  }

  private readHead(chunk: Buffer, at: number, sink: ResponseSink): number {
    let buf = chunk;
    let from = at;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk.subarray(at)]);
      from = 0;
    }
    // Search from 3 bytes before the new bytes: the terminator may straddle two reads (and
    // the bytes before were searched already: a head dripped byte by byte stays linear).
    const scan = this.pending === undefined ? from : Math.max(0, this.pending.length - 3);
    const end = buf.indexOf(CRLF2, scan);
    if (end === -1) {
      if (buf.indexOf('\n\n', scan) !== -1 || buf.indexOf('\n\r\n', scan) !== -1) throw badResponse('line ends without CR');
      if (buf.length - from > MAX_HEAD) throw badResponse(`head over ${MAX_HEAD} bytes`);
      this.pending = from === 0 ? buf : buf.subarray(from);
      return chunk.length;
    }
    if (end - from > MAX_HEAD) throw badResponse(`head over ${MAX_HEAD} bytes`);
    const consumed = this.pending === undefined ? end + 4 : chunk.length - (buf.length - (end + 4));
    this.pending = undefined;
    this.parseHead(buf, from, end, sink);
    return consumed;
  }

  /** The head's bytes buf[from, end) (without the blank line): framing read, then the state to go on in. */
  private parseHead(buf: Buffer, from: number, end: number, sink: ResponseSink): void {
    const h = this.head;
    scanHead(buf, from, end, h);
    if (h.http10 || h.close) this.keepAlive = false;
    const { status, length, chunked } = h;
    if (chunked && length !== -1) throw badResponse('both Content-Length and Transfer-Encoding');
    if (status < 200) {
      if (status === 101 || ++this.interim > MAX_INTERIM) throw badResponse(`unexpected interim status ${status}`);
      return; // an interim answer: the final one follows
    }
    sink.onStatus(status);
    if (this.noBody || status === 204 || status === 304) this.finish(sink);
    else if (chunked) this.state = State.ChunkSize;
    else if (length !== -1) {
      if (length > MAX_BODY) throw badResponse(`body of ${length} bytes, over ${MAX_BODY}`);
      this.remaining = length;
      this.state = State.Length;
      if (length === 0) this.finish(sink);
    } else {
      // Neither: the body runs until the connection closes (HTTP/1.0 style), bounded.
      this.keepAlive = false;
      this.remaining = MAX_BODY + 1;
      this.state = State.UntilClose;
    }
  }

  private readBody(chunk: Buffer, at: number, sink: ResponseSink): number {
    const n = Math.min(this.remaining, chunk.length - at);
    this.remaining -= n;
    this.bodyBytes += n;
    if (this.bodyBytes > MAX_BODY) throw badResponse(`body over ${MAX_BODY} bytes`);
    sink.onBody(chunk, at, at + n);
    if (this.remaining === 0) {
      if (this.state === State.Length) this.finish(sink);
      else this.state = State.ChunkEnd;
    }
    return at + n;
  }

  private readChunkSize(chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(10, at);
    const end = lf === -1 ? chunk.length : lf + 1;
    this.line += chunk.toString('latin1', at, end);
    if (this.line.length > 12) throw badResponse('chunk-size line too long (chunk extensions are not accepted)');
    if (lf === -1) return end;
    const size = this.line.endsWith('\r\n') ? this.line.slice(0, -2) : '';
    this.line = '';
    if (!CHUNK_SIZE.test(size)) throw badResponse('malformed chunk size (chunk extensions are not accepted)');
    this.remaining = parseInt(size, 16);
    this.state = this.remaining === 0 ? State.LastChunkEnd : State.ChunkData;
    return end;
  }

  /** The CRLF after a chunk's data, or after the last chunk (trailers are not accepted). */
  private readCrlf(chunk: Buffer, at: number, sink: ResponseSink): number {
    const want = this.line.length === 0 ? 13 : 10;
    if (chunk[at] !== want) throw badResponse(this.state === State.LastChunkEnd ? 'trailers are not accepted' : 'chunk data longer than its size');
    if (want === 13) {
      this.line = '\r';
      return at + 1;
    }
    this.line = '';
    if (this.state === State.LastChunkEnd) this.finish(sink);
    else this.state = State.ChunkSize;
    return at + 1;
  }

  private finish(sink: ResponseSink): void {
    this.state = State.Done;
    sink.onDone(this.keepAlive);
  }
}
