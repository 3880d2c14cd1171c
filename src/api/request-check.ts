// Which requests the API answers at all: the browser-facing checks, as one
// pure function of the request's headers. The token (off loopback) is checked
// after these, in server.ts.

import { isLoopback } from '../config/index.js';

/** The header a state-changing request must carry; a cross-origin page cannot send it without a preflight. */
export const INTENT_HEADER = 'x-syncward';

/** What the checks know about the listener. */
export interface HostPolicy {
  /** the port the API is bound to (the real one, also when api.listen says 0) */
  port: number;
  /** api.listen's host; a wildcard (0.0.0.0, ::) names no host by itself */
  listenHost: string;
  /** api.allowed_hosts: further names the API is reached by (a TLS proxy's name) */
  allowedHosts: readonly string[];
}

/** What the checks read from one request. */
export interface RequestFacts {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  intent: string | undefined;
  contentType: string | undefined;
  /** the local address the connection came in on (req.socket.localAddress) */
  localAddress: string | undefined;
}

/** Why a request is refused: which check, and a sentence for the operator. */
export interface Refusal {
  check: 'host' | 'origin' | 'intent';
  reason: string;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** "name", "name:port", "[v6]", "[v6]:port", lower-cased, brackets dropped; null when malformed. Pure. */
export function parseHostHeader(host: string): { name: string; port: number | null } | null {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::(\d{1,5}))?$/i.exec(host.trim());
  if (!m) return null;
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && port > 65535) return null;
  return { name: ((m[1] ?? m[2]) as string).toLowerCase(), port };
}

/** An IPv4 address as Node reports it on a dual-stack socket ("::ffff:10.0.0.1") in its plain form. */
function plainAddress(a: string | undefined): string {
  return (a ?? '').toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * Null when the API may answer the request, else why not. Three checks, each
 * closing one way a web page in the operator's browser could reach the API:
 *
 * - Host must be a loopback name, the listen address, the address the
 *   connection came in on, or one of api.allowed_hosts, on our port: a page
 *   that rebinds its own DNS name to 127.0.0.1 sends its own name as Host.
 * - Origin, when present, must be the Host itself: browsers send it with
 *   every cross-origin request and with every POST.
 * - Anything but GET/HEAD must carry X-Syncward (or a JSON content type):
 *   a page on another origin can only send such a request after a CORS
 *   preflight, which this API never grants. This covers browsers that omit
 *   Origin, and `fetch(url, {mode: 'no-cors'})`. Pure.
 */
export function refusal(r: RequestFacts, p: HostPolicy): Refusal | null {
  const host = r.host === undefined ? null : parseHostHeader(r.host);
  if (host === null)
    return {
      check: 'host',
      reason: `the Host header ${r.host === undefined ? 'is missing' : `"${r.host}" is malformed`}: send the address the API listens on as Host`,
    };
  const listen = p.listenHost.toLowerCase().replace(/^\[|\]$/g, '');
  const known =
    isLoopback(host.name) ||
    (!WILDCARDS.has(listen) && host.name === listen) ||
    host.name === plainAddress(r.localAddress) ||
    p.allowedHosts.some((a) => a.toLowerCase() === host.name);
  if (!known)
    return {
      check: 'host',
      reason: `Host "${r.host}" is not a name of this API (a page whose DNS name points here is refused): use localhost, 127.0.0.1, [::1] or the api.listen address, or add "${host.name}" to api.allowed_hosts if the API is reached by that name through a proxy`,
    };
  if (host.port !== null && host.port !== p.port)
    return {
      check: 'host',
      reason: `Host "${r.host}" names port ${host.port}, but the API listens on ${p.port}: a proxy in front of it must pass Host with port ${p.port} or none`,
    };
  if (r.origin !== undefined && !sameOrigin(r.origin, r.host as string))
    return {
      check: 'origin',
      reason: `a request from the page at ${r.origin} to this API is refused: only the dashboard served by this API (${r.host}) may send requests from a browser`,
    };
  const method = r.method.toUpperCase();
  if (method !== 'GET' && method !== 'HEAD' && !hasIntent(r))
    return {
      check: 'intent',
      reason: `${method} needs the header "X-Syncward: 1" (or a JSON body with "Content-Type: application/json"), which a page on another site cannot send: e.g. curl -X ${method} -H 'X-Syncward: 1' URL`,
    };
  return null;
}

/** An Origin header names the same scheme-less host:port as Host (default ports compared as the browser does). */
function sameOrigin(origin: string, host: string): boolean {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false; // "null" (a sandboxed frame, a file:// page) or garbage
  }
  if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
  try {
    return o.host === new URL(`${o.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

function hasIntent(r: RequestFacts): boolean {
  if (r.intent !== undefined && r.intent.trim() !== '') return true;
  const type = (r.contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}
