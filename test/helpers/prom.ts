/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough to prove that
 * /metrics parses: every line is a comment (# HELP / # TYPE), blank, or a sample
 * `name{label="value",...} value`, and every sample belongs to a declared family.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: \\d+)?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('# HELP ')) return;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type!)) throw new Error(`line ${i + 1}: bad type ${type}`);
      types.set(name!, type!);
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const rest = m[2].replace(LABEL, (_all, k: string, v: string) => {
        labels[k] = v;
        return '';
      });
      if (rest.replace(/,/g, '').trim() !== '') throw new Error(`line ${i + 1}: bad labels ${m[2]}`);
    }
    // Values as Prometheus reads them (Go's ParseFloat): NaN and Inf in any case are valid.
    const v = m[3]!.toLowerCase();
    const value = v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Number(m[3]);
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`line ${i + 1}: bad value ${m[3]}: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]!) && !types.has(family)) throw new Error(`line ${i + 1}: sample ${m[1]} has no # TYPE`);
    samples.push({ name: m[1]!, labels, value });
  });
  return { types, samples };
}

export function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return e.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
