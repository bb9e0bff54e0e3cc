/**
 * Expected HTTP status ranges of a health check: "200-399", "200-299,404", 200, or a list of
 * those. Parsed once at load time into inclusive [low, high] pairs.
 */
import type { StatusRanges } from './types.js';

export interface ParsedStatusRanges {
  ranges: StatusRanges;
  /** Normalized text form, e.g. "200-299,404". */
  text: string;
}

export interface StatusRangesError {
  error: string;
  /** Index of the offending list element, when the value was a list. */
  index?: number;
}

const MIN_STATUS = 100;
const MAX_STATUS = 599;
const RANGE = /^(\d{1,3})(?:\s*-\s*(\d{1,3}))?$/;
const HINT = '(use e.g. "200-399" or "200-299,404")';

/** Parses one element (a number or a comma-separated string) into ranges, or an error message. */
function parseElement(value: unknown): Array<readonly [number, number]> | string {
  if (typeof value === 'number') return parseRange(String(value));
  if (typeof value !== 'string') return `not a status range: ${JSON.stringify(value)} ${HINT}`;
  const parts = value.split(',').map((part) => part.trim());
  const ranges: Array<readonly [number, number]> = [];
  for (const part of parts) {
    const range = parseRange(part);
    if (typeof range === 'string') return range;
    ranges.push(...range);
  }
  return ranges;
}

function parseRange(text: string): Array<readonly [number, number]> | string {
  const match = RANGE.exec(text);
  if (!match) return `not a status range: ${JSON.stringify(text)} ${HINT}`;
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  for (const status of [low, high]) {
    if (status < MIN_STATUS || status > MAX_STATUS) {
      return `${status} is not an HTTP status (${MIN_STATUS}-${MAX_STATUS}) in ${JSON.stringify(text)}`;
    }
  }
  if (low > high) return `range ${JSON.stringify(text)} is reversed (write the lower status first)`;
  return [[low, high]];
}

function formatRanges(ranges: StatusRanges): string {
  return ranges.map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`)).join(',');
}

/** Parses an expect_status value; on failure returns the message (and list index, if any). */
export function parseStatusRanges(value: unknown): ParsedStatusRanges | StatusRangesError {
  const elements = Array.isArray(value) ? value : [value];
  if (elements.length === 0) return { error: `no status ranges ${HINT}` };
  const ranges: Array<readonly [number, number]> = [];
  for (const [index, element] of elements.entries()) {
    const parsed = parseElement(element);
    if (typeof parsed === 'string') {
      return Array.isArray(value) ? { error: parsed, index } : { error: parsed };
    }
    ranges.push(...parsed);
  }
  const frozen = Object.freeze(ranges.map((range) => Object.freeze(range)));
  return { ranges: frozen, text: formatRanges(frozen) };
}

/** True when `status` falls in one of the inclusive ranges. No allocation: runs per check. */
export function statusInRanges(status: number, ranges: StatusRanges): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]!;
    if (status >= range[0] && status <= range[1]) return true;
  }
  return false;
}
