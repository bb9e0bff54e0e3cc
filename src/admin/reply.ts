/** A handler's answer with its own status (202) or content type (text/markdown), instead of 200 JSON. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    /** Set: `body` is a string sent as is, with this content type. */
    readonly contentType?: string,
  ) {}
}
