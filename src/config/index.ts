/** Public API of the config loader. */
export type * from './types.js';
export { parseConfigText, loadConfigFile, type LoadedConfig } from './load.js';
export { validateConfig, type ValidateOptions, type ValidateResult } from './validate.js';
export { parseDuration, formatDuration, MAX_TIMER_MS } from './duration.js';
export { parseStatusRanges, statusInRanges, type ParsedStatusRanges, type StatusRangesError } from './status-ranges.js';
export { BUILTIN_TIERS, builtinTiers, findTier } from './tiers.js';
export * from './defaults.js';
