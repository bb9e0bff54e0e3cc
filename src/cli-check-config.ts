/**
 * `drproxy check-config FILE [--strict]`: validate a config file the way `serve` and a reload
 * would, plus what only the machine it runs on can tell (are the token files there, are the token
 * variables set, can drills.signing_key_file be used). Problems go to stderr, each naming its
 * config path; stdout carries only the OK summary, so `check-config … >/dev/null` shows just
 * what is wrong.
 *
 * Exit status: 0 valid (warnings allowed unless --strict); 1 errors, or warnings under --strict,
 * or the file cannot be read; 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { loadConfigFile } from './config/index.js';
import type { Config, ConfigProblem } from './config/types.js';
import { ConfigError, formatProblem } from './errors.js';
import { signingKeyProblems } from './evidence/keys.js';

/**
 * Admin tokens whose secret cannot be had here: an unset (or empty) token_env variable, a
 * token_file that is missing, unreadable or empty. drproxy starts anyway and disables that token
 * (src/admin/auth.ts), so these are warnings: fatal under --strict.
 */
export function tokenSourceProblems(config: Config, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.admin.tokens.forEach((t, i) => {
    const at = `admin.tokens[${i}]`;
    const disabled = `the token "${t.name}" would be disabled`;
    if (t.token_env !== undefined && !env[t.token_env]?.trim()) {
      problems.push({ path: `${at}.token_env`, message: `environment variable ${t.token_env} is not set or empty: ${disabled}`, severity: 'warning' });
    }
    if (t.token_file !== undefined) {
      let why: string | undefined;
      try {
        if (readFileSync(t.token_file, 'utf8').trim() === '') why = 'is empty';
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code ?? (err as Error).message})`;
      }
      if (why !== undefined) problems.push({ path: `${at}.token_file`, message: `${t.token_file} ${why}: ${disabled}`, severity: 'warning' });
    }
  });
  return problems;
}

function summary(config: Config, warnings: number): string {
  const sites = config.tenants.reduce((n, t) => n + t.sites.length, 0);
  const backends = config.tenants.reduce((n, t) => n + t.sites.reduce((m, s) => m + s.backends.length, 0), 0);
  return `OK: ${config.tenants.length} tenant(s), ${sites} site(s), ${backends} backend(s)${warnings ? `, ${warnings} warning(s)` : ''}`;
}

export async function checkConfig(file: string | undefined, opts: { strict?: boolean } = {}): Promise<number> {
  const err = (line: string) => void process.stderr.write(`${line}\n`);
  if (!file) {
    err('drproxy check-config: missing FILE\nUsage: drproxy check-config FILE [--strict]');
    return 2;
  }
  try {
    const { config, warnings: loaded } = await loadConfigFile(file);
    // The signing key: an error stops start-up (DRP_SIGNING_KEY), so it fails the check too.
    const key = signingKeyProblems(config.drills.signing_key_file);
    const keyErrors = key.filter((p) => p.severity === 'error');
    if (keyErrors.length > 0) {
      for (const p of keyErrors) err(`${file}: ${formatProblem(p)}`);
      return 1;
    }
    const warnings = [...loaded, ...tokenSourceProblems(config), ...key];
    for (const w of warnings) err(`${file}: ${formatProblem(w)}`);
    if (opts.strict && warnings.length > 0) {
      err(`${file}: ${warnings.length} warning(s), fatal under --strict`);
      return 1;
    }
    process.stdout.write(`${file}: ${summary(config, warnings.length)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) err(`${file}: ${formatProblem(p)}`);
      return 1;
    }
    err(`drproxy check-config: ${(e as Error).message}`);
    return 1;
  }
}
