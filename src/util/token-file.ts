import { readFileSync, statSync } from 'node:fs';

/**
 * Reads a secret token from `file` (its first line, trimmed), for the API
 * and for webhooks; read at each use so a rotated token is picked up.
 * Refuses a missing or empty file, and with `ownerOnly` one that group or
 * others can read: a token anyone on the host can read protects nothing.
 * `key` names the setting in messages (api.token_file, a webhook's token_file).
 */
export function readTokenFile(file: string, o: { key: string; ownerOnly: boolean }): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `${o.key} ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`}: create it with a secret, e.g. \`head -c 32 /dev/urandom | base64 > ${file} && chmod 600 ${file}\``,
      { cause: e },
    );
  }
  if (o.ownerOnly && (mode & 0o077) !== 0)
    throw new Error(
      `${o.key} ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}): run \`chmod 600 ${file}\``,
    );
  const token = readFileSync(file, 'utf8').split('\n')[0]?.trim() ?? '';
  if (token === '') throw new Error(`${o.key} ${file} is empty: put a secret token in it`);
  return token;
}
