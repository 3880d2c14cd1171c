import { createHash, timingSafeEqual } from 'node:crypto';
import { readTokenFile } from '../util/token-file.js';

/** Reads the API token from `file`; only its owner may read it. */
export function readApiToken(file: string): string {
  return readTokenFile(file, { key: 'api.token_file', ownerOnly: true });
}

/**
 * The token a request presents: "Authorization: Bearer <token>", or
 * `?token=` (a browser's EventSource cannot set headers). Pure.
 */
export function presentedToken(authorization: string | undefined, url: URL): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m) return m[1] as string;
  return url.searchParams.get('token');
}

/** Compares two tokens in constant time (hashing first makes the lengths equal). */
export function tokenMatches(presented: string | null, expected: string): boolean {
  if (presented === null) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
