import { createServer, connect, type AddressInfo } from 'node:net';

/** Keep this process's event loop busy for `ms`: drproxy "overloaded", its timers firing late. */
export function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* busy */
  }
}

/**
 * blockEventLoop(ms) run inside a socket's I/O callback (a loopback connection's `connect`), in
 * the event loop's poll phase, where a proxy overloaded by traffic spends its time.
 *
 * Which phase the block runs in decides what runs first after it. After a block in the poll
 * phase, the timers that fell due meanwhile run before the next poll reads the sockets that
 * became readable meanwhile, on every Node. After a block in the timers phase (a continuation of
 * an awaited setTimeout), the next poll comes first on libuv ≥ 1.48 (Node 22 and later): timers
 * started while timers run wait for the next loop iteration. Node 20's libuv 1.46 ran them in
 * the same pass once something (any setTimeout call) had refreshed the loop's clock, so there
 * the timers came first after either block.
 */
export async function blockEventLoopInIo(ms: number): Promise<void> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        blockEventLoop(ms);
        socket.destroy();
        resolve();
      });
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
