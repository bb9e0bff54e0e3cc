/**
 * Rise/fall hysteresis of one backend's active health.
 *
 * A backend starts `unknown`. Its first result decides its state at once (as Envoy does for a
 * host's first check), so that start-up does not wait `rise` intervals. After that, only
 * `fall` consecutive failures take an up backend down, and only `rise` consecutive successes
 * bring a down backend up: one bad answer never flips anything.
 */
export type HealthState = 'unknown' | 'up' | 'down';

export class Hysteresis {
  state: HealthState = 'unknown';
  /** Consecutive results against the current state (failures while up, successes while down). */
  streak = 0;

  constructor(
    private readonly rise: number,
    private readonly fall: number,
  ) {}

  /** Record one result; returns true when the state changed. */
  record(ok: boolean): boolean {
    if (this.state === 'unknown') {
      this.state = ok ? 'up' : 'down';
      this.streak = 0;
      return true;
    }
    const against = this.state === 'up' ? !ok : ok;
    if (!against) {
      this.streak = 0;
      return false;
    }
    this.streak++;
    if (this.streak >= (this.state === 'up' ? this.fall : this.rise)) {
      this.state = this.state === 'up' ? 'down' : 'up';
      this.streak = 0;
      return true;
    }
    return false;
  }

  /** True while some, but not yet enough, results point the other way. */
  get transitioning(): boolean {
    return this.streak > 0;
  }

}
