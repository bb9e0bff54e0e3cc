/**
 * A TCP relay between a client and a server (a replica and etcd) that a test can partition:
 * `cut()` resets every connection and refuses new ones, `blackhole()` accepts and holds every
 * byte without forwarding (the peer sees silence, as behind a dropped route), `restore()`
 * heals it: held connections flow again (nothing lost, as when a partition heals) and new
 * ones are relayed.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  /** `http://127.0.0.1:<port>`: give this to the client instead of the server's URL. */
  url: string;
  port: number;
  mode(): 'open' | 'cut' | 'blackhole';
  cut(): void;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

export async function startRelay(target: string | URL): Promise<TcpRelay> {
  const to = new URL(target);
  const pairs = new Set<Pair>();
  let mode: 'open' | 'cut' | 'blackhole' = 'open';

  const drop = (pair: Pair): void => {
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
  };
  const flow = (pair: Pair): void => {
    if (pair.upstream === undefined) {
      const upstream = connect(Number(to.port), to.hostname);
      pair.upstream = upstream;
      upstream.on('error', () => drop(pair));
      upstream.on('close', () => drop(pair));
    }
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };
  const hold = (pair: Pair): void => {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  };

  const server: Server = createServer((client) => {
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined };
    pairs.add(pair);
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    if (mode === 'open') flow(pair);
    else hold(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    mode: () => mode,
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) drop(pair);
    },
    blackhole() {
      mode = 'blackhole';
      for (const pair of pairs) hold(pair);
    },
    restore() {
      const wasHolding = mode === 'blackhole';
      mode = 'open';
      if (wasHolding) for (const pair of pairs) flow(pair);
    },
    async close() {
      mode = 'cut';
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
