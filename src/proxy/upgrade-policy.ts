/**
 * Which Upgrade requests the data plane takes over as upgrades: WebSocket only (what
 * http-proxy-3 proxies: GET, HTTP/1.1, `Upgrade: websocket`). Any other Upgrade (h2c, unknown
 * protocols) is ignored, as RFC 9110 §7.8 allows, and the request is answered in HTTP/1.1 like
 * any other: `curl --http2 http://…` gets its answer, not an empty reply.
 *
 * Node ≥ 22.21/24.9 has the server option `shouldUpgradeCallback` for this. Node 20 has not: it
 * treats every request that carries `Connection: upgrade` as an upgrade as soon as an 'upgrade'
 * listener exists (`req.upgrade = listenerCount('upgrade') > 0` in parserOnIncoming). There the
 * same decision is made by the `IncomingMessage` class the server builds requests with (server
 * option `IncomingMessage`): its `upgrade` property reads false for an upgrade we decline. Node
 * sets `upgrade` from the parser before it adds the headers and reads it back, headers added,
 * in parserOnIncoming, which is where the callback runs on newer Node; so both give the same
 * answer at the same point.
 */
import http, { IncomingMessage, type ServerOptions } from 'node:http';

/** True for the upgrades the data plane proxies. */
export function acceptsUpgrade(req: IncomingMessage): boolean {
  if (req.method !== 'GET' || req.httpVersionMinor !== 1) return false;
  const u = req.headers.upgrade;
  return u !== undefined && u.length === 9 && u.toLowerCase() === 'websocket';
}

const kFlag = Symbol('drproxy.upgradeFlag');

/** Node 20: a request whose `upgrade` is the parser's flag and our decision together. */
class DeclinableUpgradeMessage extends IncomingMessage {
  declare [kFlag]: boolean | null;

  get upgrade(): boolean {
    return this[kFlag] === true && (this.method === 'CONNECT' || acceptsUpgrade(this));
  }

  set upgrade(flag: boolean) {
    this[kFlag] = flag;
  }
}

function hasShouldUpgradeCallback(): boolean {
  const probe = new http.Server({ shouldUpgradeCallback: () => false } as ServerOptions);
  return typeof (probe as unknown as { shouldUpgradeCallback?: unknown }).shouldUpgradeCallback === 'function';
}

/** Whether this Node decides upgrades with the server option (else the Node 20 fallback). */
export const NATIVE_UPGRADE_CALLBACK = hasShouldUpgradeCallback();

/** Server options that make Node take only accepted upgrades as upgrades. */
export function upgradeServerOptions(): ServerOptions {
  if (NATIVE_UPGRADE_CALLBACK) return { shouldUpgradeCallback: acceptsUpgrade } as ServerOptions;
  return { IncomingMessage: DeclinableUpgradeMessage };
}
