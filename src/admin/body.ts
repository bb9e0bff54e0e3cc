/**
 * Reading the JSON body of an admin mutation, bounded. Whatever the client does (a body over
 * the limit, announced or not; a connection cut mid-body; a chunked body the parser rejects)
 * the promise settles: with the object, with an HttpError to answer, or with ClientGoneError
 * when nobody is left to answer. The request is never destroyed here, so a 413 can still be
 * sent (server.ts decides whether the rest of the body is dropped or the connection closed).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

export const MAX_BODY = 64 * 1024;

/** The client went away before its request was read: there is no one to answer. */
export class ClientGoneError extends Error {
  constructor(cause?: unknown) {
    super('the client closed the connection before its request was read', { cause });
    this.name = 'ClientGoneError';
  }
}

export async function readJson(req: IncomingMessage, max = MAX_BODY): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'unsupported_media_type', 'mutations take a JSON body: send Content-Type: application/json');
  const length = Number(req.headers['content-length']);
  if (length > max) throw tooLarge(max);
  const text = (await readBounded(req, max)).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'bad_request', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'payload_too_large', `the body is larger than ${max} bytes`);
}

function readBounded(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        // No listener left: the rest flows by and is dropped (or the connection closes, see server.ts).
        done(tooLarge(max));
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => done(undefined);
    const onError = (err: Error) => done(new ClientGoneError(err));
    const onClose = () => done(new ClientGoneError());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
