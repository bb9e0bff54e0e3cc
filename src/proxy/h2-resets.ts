/**
 * The rapid-reset defence for HTTP/2 client connections (CVE-2023-44487): a client that cancels
 * more than `max_resets` streams before their answer within `reset_window` is sent GOAWAY
 * (ENHANCE_YOUR_CALM) and its connection closed. Attached by the data plane to every HTTP/2
 * session it accepts (TLS with ALPN h2, and h2c).
 */
import type { ServerHttp2Session } from 'node:http2';
import type { Http2Config } from '../config/types.js';
import type { Logger } from '../log.js';

/** Watch one session's stream resets; the session is closed when the client crosses the limit. */
export function guardResets(session: ServerHttp2Session, cfg: Http2Config, log: Logger): void {
  // Contract stub: implemented on branch h-h2reset.
  void session;
  void cfg;
  void log;
}
