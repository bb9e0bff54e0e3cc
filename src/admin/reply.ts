import type { IncomingMessage, ServerResponse } from 'node:http';

/** A handler's answer with its own status (202) or content type (text/markdown), instead of 200 JSON. */
export class Reply {
  constructor(
    readonly status: number,
    /** A Buffer or string is sent as is when contentType is set; anything else as JSON. */
    readonly body: unknown,
    /** Set: `body` is a string sent as is, with this content type. */
    readonly contentType?: string,
    /** Extra headers (etag, cache-control: they replace the defaults). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {}
}

/**
 * A streamed answer (GET /events, Server-Sent Events): the server hands the response over to
 * `start`, which writes the head and keeps writing until it ends it or the client leaves.
 * The call is audited once, when the stream opens.
 */
export class StreamReply {
  constructor(readonly start: (req: IncomingMessage, res: ServerResponse) => void) {}
}
