#!/usr/bin/env node
/**
 * The drproxy command. Thin: parse arguments, load the config, hand over to DrProxy.
 *
 *   drproxy --config FILE          serve
 *   drproxy check-config FILE [--strict]   validate a config file
 *   drproxy --help | --version
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from './config/index.js';
import { DrProxyError } from './errors.js';
import { checkConfig } from './cli-check-config.js';
import { DrProxy } from './drproxy.js';
import { createLogger } from './log.js';
import { CONTROL_HELP, isControlCommand, runControl } from './cli-control.js';
import { EVIDENCE_HELP, isEvidenceCommand, runEvidence } from './cli-evidence.js';
import { applyV8Flags } from './v8-flags.js';
import { holdMainYoung, releaseMainYoung } from './workers/heap-sizing.js';
import { workerCount } from './workers/worker-count.js';
import { DRILL_HELP, isDrillCommand, runDrill } from './cli-drill.js';
import { SAFETY_HELP, isSafetyCommand, runSafety } from './cli-safety.js';
import { APPROVAL_HELP, isApprovalCommand, runApproval } from './cli-approval.js';
import { NOTIFY_HELP, isNotifyCommand, runNotify } from './cli-notify.js';

const HELP = `drproxy — disaster-recovery failover reverse proxy

Usage:
  drproxy --config FILE            serve the tenants in FILE (default /etc/drproxy/drproxy.yaml)
  drproxy check-config FILE [--strict]
                                   validate FILE: every problem to stderr and exit 1, or the summary to
                                   stdout and exit 0; also warns about unset token variables and missing
                                   or unreadable token files; --strict: warnings are fatal too (exit 1)
  drproxy --help                   this text
  drproxy --version                the version

Signals (serve):
  SIGTERM, SIGINT                  /readyz goes red, stop accepting, finish in-flight requests
                                   (server.shutdown_timeout), exit 0
  SIGHUP                           reload the config file (a bad file changes nothing)

Environment:
  DRPROXY_CONFIG                   config file when --config is not given
  DRPROXY_LOG_LEVEL                overrides log.level
  DRPROXY_LOG_FORMAT               overrides log.format (json or pretty)
`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * `drproxy status | head -1`: the reader went away. Stop quietly with 0, as cat and git do,
 * instead of dying on an unhandled EPIPE. Not for `serve`: its logs have their own destination
 * (log-destination.ts), and a closed terminal must not stop the proxy.
 */
function exitQuietlyOnEpipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}

async function serve(file: string): Promise<number> {
  // Before the config and the first probes: see v8-flags.ts.
  applyV8Flags();
  holdMainYoung();
  let loaded;
  try {
    loaded = await loadConfigFile(file);
  } catch (err) {
    process.stderr.write(`drproxy: ${(err as Error).message}\n`);
    return 1;
  }
  const { config, warnings } = loaded;
  // The data plane on this thread: it needs V8's young generation as V8 sizes it.
  if (workerCount(config.server.workers).count === 0) releaseMainYoung();
  if (process.env.DRPROXY_LOG_LEVEL) config.log.level = process.env.DRPROXY_LOG_LEVEL;
  const format = process.env.DRPROXY_LOG_FORMAT;
  if (format === 'json' || format === 'pretty') config.log.format = format;
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  for (const w of warnings) logger.warn({ path: w.path }, `config: ${w.message}`);
  let proxy: DrProxy;
  try {
    proxy = await DrProxy.start(config, { logger });
  } catch (err) {
    const code = err instanceof DrProxyError ? err.code : undefined;
    logger.fatal({ code, err }, (err as Error).message);
    logger.flush();
    process.stderr.write(`drproxy: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      proxy.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      logger.info({ signal: 'SIGHUP' }, 'reloading the config');
      proxy.reload().then(
        (r) => {
          if (!r.ok) logger.error({ problems: r.problems }, `reload refused: ${r.detail}`);
        },
        (err: unknown) => logger.error({ err }, 'reload failed'),
      );
    });
  });
}

export async function main(argv: string[]): Promise<number> {
  // Operator commands have flags of their own: hand them over before parsing ours.
  if (isControlCommand(argv[0])) {
    exitQuietlyOnEpipe();
    return runControl(argv[0], argv.slice(1));
  }
  if (isDrillCommand(argv[0])) {
    exitQuietlyOnEpipe();
    return runDrill(argv[0]!, argv.slice(1));
  }
  if (isSafetyCommand(argv[0])) {
    exitQuietlyOnEpipe();
    return runSafety(argv[0], argv.slice(1));
  }
  if (isApprovalCommand(argv[0])) {
    exitQuietlyOnEpipe();
    return runApproval(argv[0], argv.slice(1));
  }
  if (isNotifyCommand(argv[0])) {
    exitQuietlyOnEpipe();
    return runNotify(argv.slice(1));
  }
  if (isEvidenceCommand(argv[0])) {
    exitQuietlyOnEpipe();
    return runEvidence(argv[0], argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        strict: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    exitQuietlyOnEpipe();
    process.stderr.write(`drproxy: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || values.version || (command !== undefined && command !== 'serve')) exitQuietlyOnEpipe();
  if (values.help) {
    process.stdout.write(`${HELP}\n${CONTROL_HELP}\n${DRILL_HELP}\n${SAFETY_HELP}\n${APPROVAL_HELP}\n${NOTIFY_HELP}\n${EVIDENCE_HELP}`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`drproxy ${version()}\n`);
    return 0;
  }
  switch (command) {
    case undefined:
    case 'serve':
      return serve(values.config ?? rest[0] ?? process.env.DRPROXY_CONFIG ?? '/etc/drproxy/drproxy.yaml');
    case 'check-config':
      return checkConfig(rest[0] ?? values.config, { strict: values.strict === true });
    default:
      process.stderr.write(`drproxy: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`drproxy: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
