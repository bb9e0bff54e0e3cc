/** Listen on host:port, turning a bind failure into a DrProxyError that names the listener. */
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DrProxyError } from './errors.js';

export function listen(server: Server, host: string, port: number, what: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new DrProxyError('DRP_LISTEN', `${what}: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
