import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/**
 * Reads the API token from `file`. Refuses a missing or empty file and one
 * that group or others can read: a token anyone on the host can read
 * protects nothing.
 */
export function readTokenFile(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `api.token_file ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`}: create it with a secret, e.g. \`head -c 32 /dev/urandom | base64 > ${file} && chmod 600 ${file}\``,
    );
  }
  if ((mode & 0o077) !== 0)
    throw new Error(
      `api.token_file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}): run \`chmod 600 ${file}\``,
    );
  const token = readFileSync(file, 'utf8').trim();
  if (token === '') throw new Error(`api.token_file ${file} is empty: put a secret token in it`);
  return token;
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
