/**
 * A sink's URL and secrets, read from the environment variable or file the config names
 * (never from the config text). Read when the notifier is built and at every reload (rotation).
 */
import { readFileSync } from 'node:fs';
import type { NotifySinkConfig } from '../config/types.js';
import { DEFAULT_NOTIFY_SINK } from '../config/defaults.js';

export interface SinkSecrets {
  url?: string;
  secret?: string;
  routing_key?: string;
  /** What could not be read (named by its variable or file, never its value). */
  problems: string[];
}

function read(sink: NotifySinkConfig, what: 'url' | 'secret' | 'routing_key', env: NodeJS.ProcessEnv, problems: string[]): string | undefined {
  const envName = sink[`${what}_env`];
  const file = sink[`${what}_file`];
  if (envName !== undefined) {
    const v = env[envName]?.trim();
    if (!v) problems.push(`${what}: environment variable ${envName} is not set`);
    return v || undefined;
  }
  if (file === undefined) return undefined;
  try {
    const v = readFileSync(file, 'utf8').trim();
    if (!v) problems.push(`${what}: file ${file} is empty`);
    return v || undefined;
  } catch (err) {
    problems.push(`${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

export function readSinkSecrets(sink: NotifySinkConfig, env: NodeJS.ProcessEnv = process.env): SinkSecrets {
  const problems: string[] = [];
  const url = read(sink, 'url', env, problems) ?? (sink.kind === 'pagerduty' ? DEFAULT_NOTIFY_SINK.pagerduty_url : undefined);
  if (url !== undefined && !/^https?:\/\//i.test(url)) problems.push('url: not an http(s) URL');
  const secret = sink.kind === 'webhook' ? read(sink, 'secret', env, problems) : undefined;
  const routing_key = sink.kind === 'pagerduty' ? read(sink, 'routing_key', env, problems) : undefined;
  return { ...(url !== undefined && { url }), ...(secret !== undefined && { secret }), ...(routing_key !== undefined && { routing_key }), problems };
}
