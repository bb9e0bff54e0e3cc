/**
 * What the two bare undici proxies of the benchmarks share (bare-undici.js, the throughput
 * reference, and oracle-failover.js, the failover floor): hop-by-hop header filtering and the
 * relaying of an upstream answer, the least any HTTP proxy must do.
 */

/** Hop-by-hop request headers (and the ones undici refuses from a caller). */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

/** The client's raw headers without the hop-by-hop ones, as undici takes them (flat array). */
export function upstreamHeaders(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** Write the upstream's status and headers (less the hop-by-hop ones) to the client; returns `res` for Pool.stream(). */
export function relayHead(res, statusCode, headers) {
  delete headers.connection;
  delete headers['keep-alive'];
  delete headers['transfer-encoding'];
  res.writeHead(statusCode, headers);
  return res;
}

/** The upstream failed: 502 if nothing was sent yet, else cut the client off. */
export function failResponse(res, err) {
  if (!res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway\n');
  } else {
    res.destroy(err);
  }
}
