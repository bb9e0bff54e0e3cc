/**
 * Health checks that do not flap on a loaded machine: a probe may take up to 1s, and a backend
 * is down only after 4 failures in a row. For tests whose assertions read which sites are
 * available (the per-flip rules count them), not for tests that time detection.
 */
export const STEADY_CHECKS = { interval: '200ms', timeout: '1s', rise: 1, fall: 4, jitter: 0 };
