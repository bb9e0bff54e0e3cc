/**
 * Reading the config file: YAML text → parsed document → validated Config. Both entry points
 * throw ConfigError listing every problem (YAML syntax errors carry line and column).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Document, LineCounter, type YAMLError, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { ConfigError, DrProxyError } from '../errors.js';
import type { Config, ConfigProblem } from './types.js';
import { validateConfig } from './validate.js';

export interface LoadedConfig {
  config: Config;
  /** Problems of severity 'warning' (the config is usable). */
  warnings: ConfigProblem[];
}

/** Parses and validates config text; `source` names it in errors, `baseDir` resolves relative paths. */
export function parseConfigText(text: string, source: string, baseDir: string): LoadedConfig {
  const parsed = parseYaml(text);
  if ('problems' in parsed) throw new ConfigError(source, parsed.problems);
  const { config, problems } = validateConfig(parsed.value, { baseDir });
  if (config === undefined) throw new ConfigError(source, problems);
  return { config, warnings: problems.filter((problem) => problem.severity === 'warning') };
}

/** Reads, parses and validates a config file; `config.source` is its absolute path. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new DrProxyError('DRP_CONFIG_READ', `cannot read config file ${absolute}: ${reason}`, { cause: err });
  }
  const loaded = parseConfigText(text, absolute, path.dirname(absolute));
  loaded.config.source = absolute;
  return loaded;
}

function problem(message: string): ConfigProblem {
  return { path: '', message, severity: 'error' };
}

function parseYaml(text: string): { value: unknown } | { problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  // uniqueKeys: a tenant (or any key) written twice is a syntax error, never a silent override.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((err) => problem(syntaxMessage(err, doc, lineCounter))) };
  }
  if (doc.contents === null) return { problems: [problem('the config file is empty')] };
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    // e.g. an alias to an undefined anchor, or an alias bomb.
    return { problems: [problem(`YAML error: ${(err as Error).message}`)] };
  }
}

function syntaxMessage(err: YAMLError, doc: Document, lineCounter: LineCounter): string {
  const { line, col } = lineCounter.linePos(err.pos[0]);
  let detail = err.message;
  if (err.code === 'DUPLICATE_KEY') {
    const where = duplicateKey(doc, err.pos[0]);
    detail = where === undefined ? 'duplicate key' : `duplicate key ${where}`;
  } else if (err.code === 'MULTIPLE_DOCS') {
    detail = 'more than one YAML document ("---"); the config is a single document';
  }
  return `YAML syntax error at line ${line}, column ${col}: ${detail}`;
}

/** `"acme" in tenants` for the duplicate key starting at `offset`. */
function duplicateKey(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Pair(_, pair, ancestors) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== offset) return undefined;
      const parent = dottedPath(ancestors);
      found = `${JSON.stringify(String(pair.key.value))}${parent === '' ? '' : ` in ${parent}`}`;
      return visit.BREAK;
    },
  });
  return found;
}

function dottedPath(ancestors: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < ancestors.length; i++) {
    const node = ancestors[i];
    const child = ancestors[i + 1];
    if (isPair(node) && isScalar(node.key)) out += out === '' ? String(node.key.value) : `.${String(node.key.value)}`;
    else if (isSeq(node) && child !== undefined) out += `[${node.items.indexOf(child as never)}]`;
  }
  return out;
}
