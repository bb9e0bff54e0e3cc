// node:http2 compatibility API vs core API, on a trivial h2c server, loaded with h2load
// (issue 22 item 3: "measure"). Each server answers 200 with a 2-byte body and one header.
// Usage: node bench/h2-api.js [seconds=8]  (127.0.0.1 only; bounded: two runs of `seconds`).
// Prints req/s per API; the decision it informs is in docs/design.md ("HTTP/2 to clients").
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 8);

function compat() {
  return http2.createServer((req, res) => {
    res.writeHead(200, ['content-type', 'text/plain']);
    res.end('ok');
  });
}

function core() {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('ok');
  });
  return server;
}

async function load(name, server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  // 4 connections x 32 streams, a warm-up excluded by h2load's duration mode.
  const { stdout } = await run('h2load', ['-c', '4', '-m', '32', '-D', String(seconds), '--warm-up-time', '1', `http://127.0.0.1:${port}/`], { maxBuffer: 1 << 20 });
  await new Promise((resolve) => server.close(resolve));
  const rps = /finished in [^,]+, ([\d.]+) req\/s/.exec(stdout)?.[1];
  const failed = /(\d+) failed/.exec(stdout)?.[1];
  console.log(`${name}: ${rps} req/s (failed ${failed})`);
  return Number(rps);
}

// Core first, then compat: the order of a first run was reversed, to see the warm-up's share.
const b = await load('core (stream.respond)', core());
const a = await load('compat (Http2ServerRequest/Response)', compat());
console.log(`core/compat: ${(b / a).toFixed(2)}x`);
