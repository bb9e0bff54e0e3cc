/**
 * One active health check loop: probes a backend on its interval (with jitter, and a faster
 * interval while the backend is changing state), judges the answer against the expected status
 * ranges and body, and feeds the hysteresis. Checks use their own keep-alive dispatcher so that
 * a busy data-plane pool never delays a probe.
 */
import { request, type Dispatcher } from 'undici';
import type { HealthCheckConfig } from '../config/types.js';
import { statusInRanges } from '../config/status-ranges.js';
import { Hysteresis, type HealthState } from './hysteresis.js';
import { readDataAge } from './data-age.js';

export interface CheckResult {
  ok: boolean;
  /** HTTP status, when an answer came. */
  status?: number;
  /** Why the check failed, in a few words. */
  error?: string;
  durationMs: number;
  /** Data age in seconds read from the body, when data_age is configured and present. */
  dataAgeSeconds?: number;
  at: number;
}

export interface CheckListener {
  /** Every result, after the hysteresis has taken it. */
  onResult(result: CheckResult, state: HealthState, changed: boolean): void;
}

/** Bodies are read only when they must be judged; never more than this. */
const MAX_BODY = 64 * 1024;

export class ActiveCheck {
  readonly hysteresis: Hysteresis;
  /** Time of the first failure of the current failing streak (detection start), or 0. */
  firstFailureAt = 0;
  lastResult: CheckResult | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;
  private readonly url: string;

  constructor(
    readonly origin: string,
    private cfg: HealthCheckConfig,
    private readonly dispatcher: Dispatcher,
    private readonly listener: CheckListener,
  ) {
    this.url = origin + cfg.path;
    this.hysteresis = new Hysteresis(cfg.rise, cfg.fall);
  }

  get state(): HealthState {
    return this.hysteresis.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // First probe at once: start-up should not wait a whole interval to learn anything.
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Run a probe now (used after a config change and by tests); no-op if one is running. */
  async probe(): Promise<CheckResult | undefined> {
    if (this.running) return undefined;
    this.running = true;
    let result: CheckResult;
    try {
      result = await this.check();
    } finally {
      this.running = false;
    }
    if (!this.stopped) this.take(result);
    return result;
  }

  private take(result: CheckResult): void {
    const changed = this.hysteresis.record(result.ok);
    if (!result.ok) {
      if (this.firstFailureAt === 0) this.firstFailureAt = result.at - result.durationMs;
    } else if (this.hysteresis.state === 'up') {
      this.firstFailureAt = 0;
    }
    this.lastResult = result;
    this.listener.onResult(result, this.hysteresis.state, changed);
  }

  /**
   * Probes start on a fixed cadence (the next one `interval` after the previous one started,
   * not after it ended), so that a dead backend is declared down within
   * interval × fall + timeout, as the config promises.
   */
  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const started = performance.now();
      void this.probe().finally(() => this.schedule(Math.max(0, this.nextDelay() - (performance.now() - started))));
    }, delay);
    this.timer.unref();
  }

  private nextDelay(): number {
    const base = this.hysteresis.transitioning ? this.cfg.fast_interval : this.cfg.interval;
    const spread = base * this.cfg.jitter;
    return Math.max(1, base - spread + Math.random() * 2 * spread);
  }

  private async check(): Promise<CheckResult> {
    const cfg = this.cfg;
    const started = performance.now();
    const at = () => Date.now();
    const done = (ok: boolean, extra: Partial<CheckResult>): CheckResult => ({
      ok,
      durationMs: performance.now() - started,
      at: at(),
      ...extra,
    });
    const headers: Record<string, string> = { 'user-agent': 'drproxy-health', ...cfg.headers };
    if (cfg.host) headers.host = cfg.host;
    try {
      const res = await request(this.url, {
        method: cfg.method,
        headers,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(cfg.timeout),
        headersTimeout: cfg.timeout,
        bodyTimeout: cfg.timeout,
      });
      const status = res.statusCode;
      const needBody = cfg.expect_body !== undefined || cfg.data_age !== undefined;
      let body = '';
      if (needBody && cfg.method !== 'HEAD') body = await readCapped(res.body);
      else await res.body.dump();
      if (!statusInRanges(status, cfg.expect_status)) {
        return done(false, { status, error: `status ${status} not in ${cfg.expect_status_text}` });
      }
      if (cfg.expect_body !== undefined && !body.includes(cfg.expect_body)) {
        return done(false, { status, error: 'body does not contain the expected text' });
      }
      const extra: Partial<CheckResult> = { status };
      if (cfg.data_age) {
        const age = readDataAge(body, cfg.data_age);
        if (age !== undefined) extra.dataAgeSeconds = age;
      }
      return done(true, extra);
    } catch (err) {
      return done(false, { error: describeError(err, cfg.timeout) });
    }
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_BODY) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8', 0, Math.min(size, MAX_BODY));
}

export function describeError(err: unknown, timeout: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timeout after ${timeout}ms`;
  }
  const code = e.code ?? e.cause?.code;
  return code ? `${code}` : (e.message ?? String(err));
}
