/**
 * Two corrections to how undici (7.x, lib/dispatcher/client-h1.js) reads an upstream's answer,
 * applied where each backend pool gets its sockets (its `connect` function). Neither costs a
 * request anything: one listener per connection, and one patch per process.
 *
 * 1. A reset is never the end of a response. undici takes an ECONNRESET that arrives while a
 *    response ends with its connection (no Content-Length, no chunking) as that end
 *    (onHttpSocketError: "On Mac OS, we get an ECONNRESET even if there is a full body"), and
 *    completes the request: a proxy would then end its client's answer cleanly although the
 *    body may be cut anywhere. The pool's sockets get a first 'error' listener that renames the
 *    code (UPSTREAM_RESET), so that undici fails the request instead, and drproxy aborts the
 *    client's answer (forwarder.ts). Resets before or between answers fail as they did.
 *
 * 2. A `100 Continue` is an answer like any 1xx. RFC 9110 §15.2: a client MUST be able to parse
 *    1xx answers it did not ask for. undici handles 102, 103 and the rest as informational, but
 *    destroys the connection on a 100 ("bad response"; it never sends Expect itself). Its parser
 *    class is not exported, so it is reached through the first connection's parser, and its
 *    onHeadersComplete is wrapped to hand a 100 on as CONTINUE_ALIAS, an unassigned 1xx that
 *    undici treats as informational (skips the absent body, waits for the final answer).
 *    llhttp has already framed the message by the real status. If undici's internals change
 *    shape, nothing is patched (a warning is logged once) and a 100 fails as before;
 *    test/hostile/upstream-informational.test.ts shows which.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { mark, TRACE } from '../trace-marks.js';

/** The code an upstream connection reset carries once renamed (forwarder.ts classifies it as a reset). */
export const UPSTREAM_RESET = 'DRP_UPSTREAM_RESET';

/** The status a `100 Continue` reaches the handler with (see 2. above). */
export const CONTINUE_ALIAS = 199;

type Connector = buildConnector.connector;

let patch: 'pending' | 'done' | 'failed' = 'pending';
let onPatchFailed: ((reason: string) => void) | undefined;

/** Called once if undici's parser cannot be patched (the data plane logs it). */
export function onContinuePatchFailed(cb: (reason: string) => void): void {
  onPatchFailed = cb;
}

/** Whether an upstream's `100 Continue` is read as informational (false until the first connection). */
export function continuePatched(): boolean {
  return patch === 'done';
}

/** The pool's connector: every socket it hands undici is prepared as described above. */
export function upstreamConnector(connector: Connector): Connector {
  return (options, callback) => {
    if (TRACE) mark('connect-start');
    connector(options, (err, socket) => {
      if (err !== null || socket === null) {
        if (TRACE) mark('connect-failed', (err as (Error & { code?: string }) | null)?.code);
        callback(err ?? new Error('no socket'), null);
        return;
      }
      // Before undici's own 'error' listener, which is added inside the callback.
      socket.on('error', renameReset);
      if (TRACE) socket.once('close', traceClose);
      callback(null, socket);
      // undici set up its parser on the socket synchronously in the callback (connectH1).
      if (patch === 'pending') patchParser(socket);
    });
  };
}

function traceClose(this: Socket): void {
  mark('upstream-close', this.remotePort);
}

function renameReset(err: Error & { code?: string }): void {
  if (err.code === 'ECONNRESET') err.code = UPSTREAM_RESET;
}

type HeadersComplete = (statusCode: number, upgrade: boolean, shouldKeepAlive: boolean) => number;

function patchParser(socket: Socket): void {
  if (socket.destroyed) return; // undici did not set it up: the next socket
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'parser');
  const parser = sym === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[sym];
  if (parser === null || parser === undefined) {
    patch = 'failed';
    onPatchFailed?.('no undici parser on the connection');
    return;
  }
  const proto = Object.getPrototypeOf(parser) as { onHeadersComplete?: HeadersComplete };
  const original = proto.onHeadersComplete;
  if (typeof original !== 'function' || original.length !== 3) {
    patch = 'failed';
    onPatchFailed?.('undici parser has no onHeadersComplete(statusCode, upgrade, shouldKeepAlive)');
    return;
  }
  proto.onHeadersComplete = function onHeadersComplete(this: unknown, statusCode, upgrade, shouldKeepAlive) {
    return original.call(this, statusCode === 100 ? CONTINUE_ALIAS : statusCode, upgrade, shouldKeepAlive);
  };
  patch = 'done';
}
