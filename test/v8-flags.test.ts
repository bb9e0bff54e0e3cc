import { describe, expect, it } from 'vitest';
import { V8_FLAGS, v8FlagsToSet } from '../src/v8-flags.js';

describe('V8 flags of the serving process', () => {
  it('turns allocation-site pretenuring off by default', () => {
    expect(V8_FLAGS).toContain('--no-allocation-site-pretenuring');
    expect(v8FlagsToSet([])).toEqual(['--no-allocation-site-pretenuring']);
    expect(v8FlagsToSet(['--max-old-space-size=512', '--enable-source-maps'])).toEqual(['--no-allocation-site-pretenuring']);
  });

  it("leaves the operator's own setting alone, either way and in either spelling", () => {
    expect(v8FlagsToSet(['--allocation-site-pretenuring'])).toEqual([]);
    expect(v8FlagsToSet(['--no-allocation-site-pretenuring'])).toEqual([]);
    expect(v8FlagsToSet(['--allocation_site_pretenuring'])).toEqual([]);
    expect(v8FlagsToSet(['--inspect', '--no_allocation_site_pretenuring'])).toEqual([]);
  });

  it('sets nothing when V8 flags are frozen after start-up (setting one would abort)', () => {
    expect(v8FlagsToSet(['--freeze-flags-after-init'])).toEqual([]);
    expect(v8FlagsToSet(['--freeze_flags_after_init'])).toEqual([]);
    expect(v8FlagsToSet(['--no-freeze-flags-after-init'])).toEqual(['--no-allocation-site-pretenuring']);
  });
});
