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
      // Past this point the only errors a listening server emits are accept errors: EMFILE or
      // ENFILE that libuv could not shed with its spare descriptor. The server keeps listening;
      // without a listener the `error` event would end the process. The data plane and the
      // admin listener log and count them (connection-guard.ts).
      if (server.listenerCount('error') === 0) server.on('error', () => {});
      resolve(server.address() as AddressInfo);
    });
  });
}
