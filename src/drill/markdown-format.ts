/**
 * Small Markdown helpers for the drill reports (report-markdown.ts): escaping of text that came
 * from people (a drill's reason, a step's detail), tables, durations for people with the exact
 * milliseconds beside them.
 */

/**
 * Text as literal Markdown on one line: emphasis, code, links, HTML and table pipes escaped,
 * line breaks folded. An operator's reason can thus neither format the report nor hide
 * anything in it (an HTML comment, a fake signature block).
 */
export function md(text: unknown): string {
  return String(text ?? '')
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/[\\`*_{}[\]()#+!|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Inline code for machine values (ids, hashes): backticks in them are not expected, but dropped. */
export function code(text: unknown): string {
  return `\`${String(text ?? '').replace(/`/g, '')}\``;
}

/** A Markdown table; cells are used as given (escape them first). */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Two-column key/value table. */
export function facts(rows: [string, string][]): string {
  return table(['', ''], rows.map(([k, v]) => [`**${k}**`, v]));
}

/** 1234 → "1.23 s", 900000 → "15 min", 86400000 → "24 h". */
export function human(ms: number): string {
  const a = Math.abs(ms);
  const round = (n: number) => String(Math.round(n * 100) / 100);
  if (a < 1000) return `${round(ms)} ms`;
  if (a < 120_000) return `${round(ms / 1000)} s`;
  if (a < 2 * 3_600_000) return `${round(ms / 60_000)} min`;
  if (a < 3 * 86_400_000) return `${round(ms / 3_600_000)} h`;
  return `${round(ms / 86_400_000)} d`;
}

/** "1234 ms (1.23 s)"; "—" when unknown. */
export function ms(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const exact = `${Math.round(v * 100) / 100} ms`;
  return v < 1000 ? exact : `${exact} (${human(v)})`;
}

/** measured / limit, six significant digits; "—" when either is unknown. */
export function ratio(measured: number | undefined, limit: number | undefined): string {
  if (measured === undefined || limit === undefined || !(limit > 0)) return '—';
  return String(Number((measured / limit).toPrecision(6)));
}

/** An ISO instant as written, or "—". */
export function at(iso: string | undefined): string {
  return iso ? code(iso) : '—';
}

/** The time between two ISO instants, ms. */
export function between(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const d = Date.parse(to) - Date.parse(from);
  return Number.isFinite(d) ? d : undefined;
}
