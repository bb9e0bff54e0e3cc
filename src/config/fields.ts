/**
 * The config reader's building blocks (see validate.ts): `Problems` collects every error and
 * warning with its dotted path; `Parse<T>` reads one value at a path; `Fields` is one YAML map
 * whose unread keys are reported as unknown, with a "did you mean"; and the small parsers
 * (numbers, durations, lists, patterns) that the section readers are composed from.
 */
import type { ConfigProblem } from './types.js';
import type { ErrorCode } from '../errors.js';
import { MAX_TIMER_MS, formatDuration, parseDuration } from './duration.js';

// ---------------------------------------------------------------------------------------------
// Problems and paths

export class Problems {
  readonly list: ConfigProblem[] = [];
  private readonly seen = new Set<string>();

  /** Records an error; returns undefined so that parsers can `return out.error(...)`. */
  error(at: string, message: string, code?: ErrorCode): undefined {
    this.add({ path: at, message, severity: 'error', ...(code !== undefined && { code }) });
    return undefined;
  }

  warn(at: string, message: string): void {
    this.add({ path: at, message, severity: 'warning' });
  }

  hasErrors(): boolean {
    return this.list.some((problem) => problem.severity === 'error');
  }

  /** The same problem can surface once per tenant/site that inherits a value: keep one. */
  private add(problem: ConfigProblem): void {
    const key = `${problem.severity}\n${problem.path}\n${problem.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(problem);
  }
}

/** `a.b` for plain keys, `a["odd key"]` otherwise, `a[3]` for list indexes. */
export function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

export function expected(what: string, value: unknown): string {
  return `expected ${what}, got ${describe(value)}`;
}

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name closest to `name` within edit distance 2, if any. */
export function suggest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance && distance < name.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Generic readers

/** Reads one value found at `at`; records problems and returns undefined when it is invalid. */
export type Parse<T> = (value: unknown, at: string, out: Problems) => T | undefined;

/** A valid list element with the path it was found at (for duplicate reports). */
export interface Item<T> {
  value: T;
  at: string;
}

/** One YAML map. Reading a key marks it known; `end()` reports the others as unknown. */
export class Fields {
  private readonly known = new Set<string>();

  private constructor(
    private readonly map: Record<string, unknown>,
    readonly at: string,
    readonly out: Problems,
  ) {}

  static of(value: unknown, at: string, out: Problems): Fields | undefined {
    return isMap(value) ? new Fields(value, at, out) : out.error(at, expected('a map', value));
  }

  path(key: string): string {
    return join(this.at, key);
  }

  /** The raw value of `key`; null (an empty YAML value) counts as absent. */
  raw(key: string): unknown {
    this.known.add(key);
    return Object.hasOwn(this.map, key) ? (this.map[key] ?? undefined) : undefined;
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  /** An optional key: undefined when absent or invalid. */
  get<T>(key: string, parse: Parse<T>): T | undefined {
    const value = this.raw(key);
    return value === undefined ? undefined : parse(value, this.path(key), this.out);
  }

  /** A required key: records "missing" when absent. */
  req<T>(key: string, parse: Parse<T>): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return this.out.error(this.path(key), 'required key is missing');
    return parse(value, this.path(key), this.out);
  }

  /** An optional nested map. */
  sub(key: string): Fields | undefined {
    return this.get(key, Fields.of);
  }

  /** Every entry of a map whose keys are names (tenants, tiers, headers), null values kept. */
  entries(): Array<[key: string, value: unknown, at: string]> {
    return Object.keys(this.map).map((key) => {
      this.known.add(key);
      return [key, this.map[key], this.path(key)];
    });
  }

  /** A key that exists elsewhere but is not allowed here. */
  forbid(key: string, why: string): undefined {
    this.known.add(key);
    return Object.hasOwn(this.map, key) ? this.out.error(this.path(key), why) : undefined;
  }

  /** Reports every key that no reader asked for. Call after all reads. */
  end(): void {
    for (const key of Object.keys(this.map)) {
      if (this.known.has(key)) continue;
      const hint = suggest(key, this.known);
      this.out.error(
        this.path(key),
        hint === undefined
          ? `unknown key (known keys: ${[...this.known].join(', ')})`
          : `unknown key (did you mean ${show(hint)}?)`,
      );
    }
  }
}

/** Every key of T must be listed (so none is forgotten); undefined values are dropped. */
export function compact<T extends object>(fields: { [K in keyof Required<T>]: T[K] | undefined }): Partial<T> {
  const result: Partial<T> = {};
  for (const key of Object.keys(fields) as Array<keyof T>) {
    const value = fields[key];
    if (value !== undefined) result[key] = value as T[keyof T];
  }
  return result;
}

export function values<T>(items: ReadonlyArray<Item<T>>): T[] {
  return items.map((item) => item.value);
}

export function mapItems<T>(items: ReadonlyArray<Item<T>> | undefined): T[] | undefined {
  return items === undefined ? undefined : values(items);
}

/** Keeps the first of each key; reports the others (at `where(item)`). */
export function rejectDuplicates<T>(
  items: ReadonlyArray<Item<T>>,
  keyOf: (value: T) => string,
  out: Problems,
  opts: { what: string; where?: (item: Item<T>) => string; severity?: 'error' | 'warning' },
): Array<Item<T>> {
  const first = new Map<string, Item<T>>();
  for (const item of items) {
    const key = keyOf(item.value);
    const previous = first.get(key);
    if (previous === undefined) {
      first.set(key, item);
      continue;
    }
    const at = opts.where?.(item) ?? item.at;
    const message = `duplicate ${opts.what} ${show(key)} (first at ${previous.at})`;
    if (opts.severity === 'warning') out.warn(at, `${message}; ignored`);
    else out.error(at, message);
  }
  return [...first.values()];
}

// ---------------------------------------------------------------------------------------------
// Value parsers

export const str: Parse<string> = (value, at, out) =>
  typeof value === 'string' ? value : out.error(at, expected('a string', value));

/** A non-empty string; numbers are accepted as text (`zone: 1`). */
export const text: Parse<string> = (value, at, out) => {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return out.error(at, expected('a string', value));
  return value.trim() === '' ? out.error(at, 'must not be empty') : value.trim();
};

export const bool: Parse<boolean> = (value, at, out) =>
  typeof value === 'boolean' ? value : out.error(at, expected('true or false', value));

export function rangeMessage(min: number, max: number, value: number): string {
  return max === Infinity ? `must be at least ${min}, got ${value}` : `must be between ${min} and ${max}, got ${value}`;
}

export function num(min: number, max = Infinity): Parse<number> {
  return (value, at, out) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return out.error(at, expected('a number', value));
    return value < min || value > max ? out.error(at, rangeMessage(min, max, value)) : value;
  };
}

export function int(min: number, max = Infinity): Parse<number> {
  return (value, at, out) => {
    if (typeof value !== 'number') return out.error(at, expected('an integer', value));
    if (!Number.isInteger(value)) return out.error(at, `expected an integer, got ${value}`);
    return value < min || value > max ? out.error(at, rangeMessage(min, max, value)) : value;
  };
}

export function oneOf<const T extends string>(allowed: readonly T[]): Parse<T> {
  return (value, at, out) =>
    typeof value === 'string' && (allowed as readonly string[]).includes(value)
      ? (value as T)
      : out.error(at, `expected one of ${allowed.join(', ')}, got ${show(value)}`);
}

/**
 * A duration string → ms. `min` is the least value accepted (1 = "more than 0s"); `timer`
 * caps the value at what a Node timer can wait (tier RPO/RTO are not timers).
 */
export function duration(opts: { min?: number; timer?: boolean } = {}): Parse<number> {
  const { min = 0, timer = true } = opts;
  return (value, at, out) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      const how = typeof value === 'number' ? 'add a unit, e.g.' : 'use e.g.';
      return out.error(at, `not a duration: ${show(value)} (${how} 500ms, 1s, 15m, 24h)`);
    }
    if (ms < min) {
      return out.error(at, min === 1 ? `must be more than 0s, got ${show(value)}` : `must be at least ${formatDuration(min)}, got ${show(value)}`);
    }
    if (timer && ms > MAX_TIMER_MS) return out.error(at, `too long: ${show(value)} (at most 24d: Node timers cannot wait longer)`);
    return ms;
  };
}

export const anyDuration = duration();
export const positiveDuration = duration({ min: 1 });

export function listOf<T>(item: Parse<T>, opts: { nonEmpty?: boolean } = {}): Parse<Array<Item<T>>> {
  return (value, at, out) => {
    if (!Array.isArray(value)) return out.error(at, expected('a list', value));
    if (opts.nonEmpty && value.length === 0) return out.error(at, 'must not be empty');
    const items: Array<Item<T>> = [];
    value.forEach((element: unknown, index) => {
      const elementAt = join(at, index);
      const parsed = item(element, elementAt, out);
      if (parsed !== undefined) items.push({ value: parsed, at: elementAt });
    });
    return items;
  };
}

export function matching(pattern: RegExp, what: string): Parse<string> {
  return (value, at, out) => {
    const s = text(value, at, out);
    if (s === undefined) return undefined;
    return pattern.test(s) ? s : out.error(at, `not a valid ${what}: ${show(value)}`);
  };
}
