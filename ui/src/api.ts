// The page's only I/O: the JSON API and the event stream, with the API token.
import type { EventName } from '../../src/api/index.js';

const TOKEN_KEY = 'syncward.token';
/** How long a request may go unanswered before it counts as failed (and is asked again). */
const REQUEST_TIMEOUT_MS = 10_000;

export type { EventName };

/** The stream's event names, checked against the server's list both ways by the type check. */
export const EVENT_NAMES = [
  'batch',
  'transfer',
  'state',
  'alert',
  'incident',
  'audit',
  'canary',
] as const satisfies readonly EventName[];
const allListed: Exclude<EventName, (typeof EVENT_NAMES)[number]> extends never ? true : never = true;
void allListed;

/** The server said the token is missing or wrong. */
export class AuthError extends Error {}

/**
 * The token from the address, else the one kept for this tab. `#token=` is
 * never sent to the server and leaves the address bar at once; `?token=`
 * stays, since a daemon that wants its token on every request needs it to
 * serve this page again on a reload.
 */
export function initialToken(): string | null {
  const hash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  const query = /[?&]token=([^&#]+)/.exec(location.search);
  const found = hash?.[1] ?? query?.[1];
  if (hash) history.replaceState(null, '', location.pathname + location.search);
  if (found) {
    const t = decodeURIComponent(found);
    setToken(t);
    return t;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function api<T>(token: string | null, method: 'GET' | 'POST', path: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  // the API refuses a change without it: a page on another site cannot send it
  if (method !== 'GET') headers['x-syncward'] = '1';
  // a request the daemon never answers (a connection lost on the way) fails in time: the
  // page asks again at its next poll instead of waiting for it, blank, forever
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError')
      throw new Error(`${method} ${path}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`);
    throw e;
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the message
  }
  if (res.status === 401) throw new AuthError(reason(body) ?? 'the API needs a token');
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${reason(body) ?? res.statusText}`);
  return body as T;
}

function reason(body: unknown): string | null {
  if (typeof body === 'string') return body.trim() || null;
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    for (const k of ['error', 'message', 'reason']) if (typeof b[k] === 'string') return b[k] as string;
  }
  return null;
}

export type LinkState = 'connecting' | 'live' | 'offline';

export interface StreamHandlers {
  onEvent(name: EventName, data: unknown): void;
  onState(state: LinkState): void;
  /** the stream is open again: whatever happened meanwhile is only in /api/status */
  onOpen(): void;
}

/**
 * /api/events with reconnection. EventSource retries a dropped connection by
 * itself, but gives up for good on an HTTP error (a 401, a daemon restarting
 * behind a proxy): then we open a new one, backing off up to 15 s.
 */
export function openStream(token: string | null, h: StreamHandlers): () => void {
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let delay = 1000;
  let closed = false;
  const connect = () => {
    timer = null;
    if (closed) return;
    h.onState('connecting');
    const url = token ? `api/events?token=${encodeURIComponent(token)}` : 'api/events';
    const source = new EventSource(url);
    es = source;
    source.onopen = () => {
      delay = 1000;
      h.onState('live');
      h.onOpen();
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        h.onState('offline');
        source.close();
        if (!closed && es === source) timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15_000);
      } else h.onState('connecting');
    };
    for (const name of EVENT_NAMES)
      source.addEventListener(name, (ev) => {
        let data: unknown = null;
        try {
          data = JSON.parse((ev as MessageEvent<string>).data);
        } catch {
          return;
        }
        h.onEvent(name, data);
      });
  };
  connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    es?.close();
  };
}
