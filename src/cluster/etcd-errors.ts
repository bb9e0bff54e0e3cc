/** etcd3's and gRPC's errors mapped to drproxy's stable codes, and our own call deadline. */
import {
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  GRPCUnavailableError,
  GRPCUnknownError,
  isRecoverableError,
} from 'etcd3';
import { DrProxyError } from '../errors.js';

export function toDrProxyError(err: unknown, what: string): DrProxyError {
  if (err instanceof DrProxyError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code =
    err instanceof EtcdLeaseInvalidError
      ? 'DRP_ETCD_LEASE_LOST'
      : err instanceof GRPCDeadlineExceededError
        ? 'DRP_ETCD_TIMEOUT'
        : err instanceof GRPCUnavailableError ||
            err instanceof ClientClosedError ||
            err instanceof GRPCCancelledError ||
            err instanceof GRPCInternalError ||
            err instanceof GRPCUnknownError ||
            (err instanceof Error && isRecoverableError(err))
          ? 'DRP_ETCD_UNAVAILABLE'
          : 'DRP_ETCD_REJECTED';
  return new DrProxyError(code, `etcd ${what}: ${message}`, { cause: err });
}

/**
 * Settles `promise` within `ms` on Node's monotonic timers, whatever the client does (a stream
 * that never answers, a gRPC deadline computed from a wall clock that jumped).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DrProxyError('DRP_ETCD_TIMEOUT', `etcd ${what}: no answer within ${ms}ms`)), ms);
  });
  // The loser's rejection must not go unhandled.
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
