/**
 * Failpoints: named places in a flip where a test can make the process die for real
 * (SIGKILL), to prove that a crash at any step never lets the epoch go backwards. Set
 * DRPROXY_FAILPOINTS=flip:after-persist (comma-separated) in the environment of a test process.
 * Read once at start; a disabled failpoint costs one Set lookup on a flip, nothing per request.
 */
const enabled = new Set(
  (process.env.DRPROXY_FAILPOINTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export type Failpoint =
  | 'flip:before-persist'
  | 'flip:after-persist'
  | 'flip:after-drain'
  | 'flip:after-fence'
  | 'flip:after-promote'
  | 'flip:after-route'
  | 'flip:after-complete';

export function failpoint(name: Failpoint): void {
  if (enabled.size !== 0 && enabled.has(name)) {
    process.stderr.write(`failpoint ${name}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
