/**
 * Typed errors, in the manner of undici and fastify: every error drproxy raises on purpose has
 * a stable `code` that callers, tests and logs can match on.
 */
import type { ConfigProblem } from './config/types.js';

export type ErrorCode =
  | 'DRP_CONFIG_INVALID'
  | 'DRP_CONFIG_READ'
  | 'DRP_STATE_CORRUPT'
  | 'DRP_STATE_EPOCH_REGRESSION'
  | 'DRP_STATE_CONFLICT'
  | 'DRP_STATE_IO'
  | 'DRP_LISTEN'
  | 'DRP_USAGE'
  /** Operator API: no such tenant, site or backend (HTTP 404). */
  | 'DRP_NOT_FOUND'
  /** Operator API: the request conflicts with the tenant's state (HTTP 409). */
  | 'DRP_CONFLICT'
  /** A data-plane worker did not exit after terminate() (stuck in native code): what waits on it fails. */
  | 'DRP_WORKER_HUNG'
  /** Config: a setting this build recognises but does not implement (state.etcd), refused. */
  | 'DRP_CONFIG_UNSUPPORTED'
  /** etcd: no endpoint answered (connection refused or reset, no leader, client closed). */
  | 'DRP_ETCD_UNAVAILABLE'
  /** etcd: a request passed its deadline (a black-holed link, a stalled cluster). */
  | 'DRP_ETCD_TIMEOUT'
  /** etcd: the lease is gone (expired, revoked or lost by our own deadline); grant a new one. */
  | 'DRP_ETCD_LEASE_LOST'
  /** etcd answered with an error that retrying will not fix (bad request, permission). */
  | 'DRP_ETCD_REJECTED'
  /** Clustered: the leader changed while carrying out an operator action; its outcome is unknown. */
  | 'DRP_LEADER_CHANGED'
  /** An unexpected failure inside drproxy (a bug): the message says what failed. */
  | 'DRP_INTERNAL'
  /** Clustered: this replica is not the leader (or its lease ran out), so it may not commit. */
  | 'DRP_NOT_LEADER'
  /** The intent record of a mutation could not be written (the leader's, for a forwarded one): nothing changed. */
  | 'DRP_AUDIT_UNAVAILABLE'
  /** A drill's preflight failed: nothing was changed (the error carries every reason). */
  | 'DRP_DRILL_REFUSED'
  /** A drill of this tenant is running already (one at a time per tenant). */
  | 'DRP_DRILL_RUNNING'
  /** Drills are not available here (no drill store: clustered mode without one). */
  | 'DRP_DRILL_UNAVAILABLE'
  /** drills.signing_key_file cannot be used: missing, unreadable, not a PKCS#8 PEM Ed25519 private key. */
  | 'DRP_SIGNING_KEY'
  /** A flip or fence breaks a tenant's per-flip safety rule (HTTP 409 safety_rule; override: force + break_glass). */
  | 'DRP_SAFETY_RULE'
  /** A health-check probe's answer is malformed or over a bound (probe-response.ts): the probe fails. */
  | 'DRP_PROBE_RESPONSE';

export class DrProxyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DrProxyError';
    this.code = code;
  }
}

/** A config file that failed validation; `problems` lists every problem with its path. */
export class ConfigError extends DrProxyError {
  readonly problems: ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(
      'DRP_CONFIG_INVALID',
      `${source}: ${errors.length} problem${errors.length === 1 ? '' : 's'}\n` +
        errors.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.path === '' ? '' : `${p.path}: `;
  return `${p.severity === 'warning' ? 'warning: ' : ''}${where}${p.message}`;
}

/** The error drproxy aborts an upstream attempt with (undici's abort code, so it is classified as such). */
export function abortError(message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'UND_ERR_ABORTED';
  return err;
}
