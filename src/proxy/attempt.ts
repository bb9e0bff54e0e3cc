/**
 * The undici handler of a second or later attempt of a proxied call (forwarder.ts), and the
 * plumbing that makes a detached attempt harmless. The first attempt's handler is the call
 * itself (no allocation on the common path); a retry or a flip re-dispatch gets an Attempt, so
 * that callbacks from an attempt the call has let go of (detached, still queued in undici's
 * pool or still reading) are told apart from the current one's and ignored, and a detached
 * attempt is aborted as soon as undici connects it.
 */
import { abortError } from '../errors.js';

/** What an attempt reports to: its call (ProxyCall). */
export interface AttemptOwner {
  isCurrent(handler: object): boolean;
  handleConnect(abort: (err?: Error) => void): void;
  handleHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  handleData(chunk: Buffer): boolean;
  handleComplete(): void;
  handleError(err: Error & { code?: string }): void;
  handleRequestSent(): void;
}

/**
 * The error a detached attempt is aborted with when undici finally connects it. One error for
 * all: hundreds of attempts queued for a hung site are detached at a flip, and an Error per
 * attempt (its stack captured, then formatted when the socket is destroyed with it) cost tens
 * of ms of the burst right after the flip.
 */
export const DETACHED = abortError('detached attempt');

/** The undici handler of a second or later attempt of a call. */
export class Attempt {
  constructor(private readonly call: AttemptOwner) {}

  onConnect(abort: (err?: Error) => void): void {
    if (this.call.isCurrent(this)) this.call.handleConnect(abort);
    else abort(DETACHED);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.call.isCurrent(this) ? this.call.handleHeaders(statusCode, rawHeaders, resume, statusText) : true;
  }

  onData(chunk: Buffer): boolean {
    return this.call.isCurrent(this) ? this.call.handleData(chunk) : true;
  }

  onComplete(): void {
    if (this.call.isCurrent(this)) this.call.handleComplete();
  }

  onError(err: Error & { code?: string }): void {
    if (this.call.isCurrent(this)) this.call.handleError(err);
  }

  onRequestSent(): void {
    if (this.call.isCurrent(this)) this.call.handleRequestSent();
  }
}
