/** The embedded-mode state store with its repairs, checkpoint failures and journal notices logged (and audited where they change what is on disk). */
import { resolve } from 'node:path';
import type { Logger } from '../log.js';
import { FileStateStore } from './file-store.js';

export function loggedFileStore(dir: string, logger: Logger): FileStateStore {
  return new FileStateStore(
    resolve(dir),
    (tenant, message) => logger.error({ alert: true, audit: true, event: 'state_repaired', tenant }, message),
    (message) => logger.error({ alert: true, event: 'state_checkpoint_failed' }, message),
    (n) => (n.alert ? logger.error({ alert: true, audit: true, event: n.event, tenant: n.tenant }, n.message) : logger.warn({ event: n.event, tenant: n.tenant }, n.message)),
  );
}
