/**
 * The rapid-reset defence for HTTP/2 client connections (CVE-2023-44487): a client that cancels
 * more than `max_resets` streams before their answer within `reset_window` is sent GOAWAY
 * (ENHANCE_YOUR_CALM) and its connection closed. Attached by the data plane to every HTTP/2
 * session it accepts (TLS with ALPN h2, and h2c).
 *
 * Why on top of Node: Node's only defence (20.8.1 / 18.18.2) is nghttp2's token bucket (burst
 * 1000, 33 resets/s refilled, then GOAWAY INTERNAL_ERROR), which lets one connection start ~1000
 * upstream requests at once and then ~33 a second for ever, and says nothing in drproxy's log or
 * metrics. docs/security.md "HTTP/2 rapid reset".
 */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Http2Config } from '../config/types.js';
import type { Logger } from '../log.js';

/** Process-wide tally, read at scrape by drproxy_http2_rapid_reset_total (src/h2-reset-metrics.ts). */
export const rapidResetStats = { sessionsClosed: 0 };

/** Watch one session's stream resets; the session is closed when the client crosses the limit. */
export function guardResets(session: ServerHttp2Session, cfg: Http2Config, log: Logger): void {
  // A fixed window (count, start): one comparison per cancelled stream, no timer, nothing per
  // stream but one listener. At worst 2 * max_resets pass across a window's edge; the attack
  // sends thousands a second, so that is still far below it.
  let resets = 0;
  let windowStart = 0;
  let tripped = false;

  function count(): void {
    if (tripped || session.destroyed) return;
    const now = Date.now();
    if (now - windowStart > cfg.reset_window) {
      windowStart = now;
      resets = 0;
    }
    if (++resets <= cfg.max_resets) return;
    tripped = true;
    rapidResetStats.sessionsClosed++;
    log.warn(
      { event: 'h2_rapid_reset', peer: session.socket?.remoteAddress, resets, window_ms: cfg.reset_window },
      'HTTP/2 client cancelled too many streams (rapid reset, CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM, connection closed',
    );
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // Destroyed on the next turn, not from inside nghttp2's read: the streams of this same read
    // that Node has queued for its 'stream' event still find their session alive; once the
    // GOAWAY is sent nghttp2 accepts no new stream. Not close(): an attacker's open streams must not keep
    // the connection, or their upstream requests, alive. destroy() still writes the GOAWAY.
    setImmediate(destroySession, session);
  }

  // 'aborted' fires when a stream closes before drproxy ended its answer. A stream drproxy itself
  // destroys (upstream failure, session teardown) is already `destroyed` by then: not counted, so
  // a failing backend cannot get its own clients disconnected. A peer's RST_STREAM, whatever its
  // code (NO_ERROR too), leaves the stream not yet destroyed.
  function onAborted(this: ServerHttp2Stream): void {
    if (!this.destroyed) count();
  }

  // A stream can be aborted before its 'stream' event: Node parses what a socket already holds
  // while it creates the session, before 'session' and this guard run (h2c after the preface
  // sniff: the attacker's first burst). Aborted then, it was the peer (drproxy has not seen it).
  // Prepended: counted before the data plane's own handlers run.
  session.prependListener('stream', (stream: ServerHttp2Stream) => {
    if (stream.aborted) count();
    else stream.on('aborted', onAborted);
  });
}

function destroySession(session: ServerHttp2Session): void {
  session.destroy();
}
