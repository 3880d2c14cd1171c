/**
 * Where a target lives. `path` never ends with a slash; `host` is bare (an
 * IPv6 address without its brackets).
 */
export type TargetUrl =
  | { kind: 'daemon'; user?: string; host: string; port?: number; module: string; path?: string }
  | { kind: 'ssh'; user?: string; host: string; port?: number; path: string }
  | { kind: 'local'; path: string };

export const TARGET_URL_FORMS =
  'rsync://[user@]host[:port]/module[/path], ssh://[user@]host[:port]/abs/path, or an absolute local path /abs/path';

export class TargetUrlError extends Error {
  constructor(
    readonly url: string,
    readonly problem: string,
  ) {
    super(`invalid target URL ${JSON.stringify(url)}: ${problem}; valid forms are ${TARGET_URL_FORMS}`);
    this.name = 'TargetUrlError';
  }
}

// user names: what ssh and rsyncd accept in practice, nothing a shell or rsync's host parser could misread
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;
const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

export function parseTargetUrl(url: string): TargetUrl {
  const fail = (problem: string): never => {
    throw new TargetUrlError(url, problem);
  };
  if (url.trim() === '') fail('it is empty');
  if (/[\x00-\x1f\x7f]/.test(url)) fail('it contains a control character (newline, tab, ...)');
  if (url.startsWith('rsync://')) {
    const { user, host, port, rest } = authority(url.slice('rsync://'.length), fail);
    const parts = rest.split('/').filter((p) => p !== '');
    const module = parts.shift();
    if (!module) fail('the rsync daemon module is missing (rsync://host/module)');
    const path = parts.length > 0 ? cleanSegments(parts, fail) : undefined;
    return {
      kind: 'daemon',
      ...(user ? { user } : {}),
      host,
      ...(port ? { port } : {}),
      module: module as string,
      ...(path ? { path } : {}),
    };
  }
  if (url.startsWith('ssh://')) {
    const { user, host, port, rest } = authority(url.slice('ssh://'.length), fail);
    if (rest === '' || rest === '/') fail('the remote directory is missing (ssh://host/abs/path)');
    const path = `/${cleanSegments(
      rest.split('/').filter((p) => p !== ''),
      fail,
    )}`;
    return { kind: 'ssh', ...(user ? { user } : {}), host, ...(port ? { port } : {}), path };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) fail(`unknown scheme "${scheme[1]}://"`);
  if (!url.startsWith('/')) {
    if (/^[^/]*:/.test(url))
      fail('host:path (scp style) is not accepted; write ssh://host/abs/path or rsync://host/module');
    fail('a local target must be an absolute path');
  }
  const segs: string[] = [];
  for (const s of url.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segs.pop();
    else segs.push(s);
  }
  // with --delete, mirroring into / would remove everything else on this host
  if (segs.length === 0) fail('the root directory / cannot be a target');
  return { kind: 'local', path: `/${segs.join('/')}` };
}

function authority(
  s: string,
  fail: (problem: string) => never,
): { user?: string; host: string; port?: number; rest: string } {
  const slash = s.indexOf('/');
  const auth = slash < 0 ? s : s.slice(0, slash);
  const rest = slash < 0 ? '' : s.slice(slash);
  let hostPort = auth;
  let user: string | undefined;
  const at = auth.lastIndexOf('@');
  if (at >= 0) {
    user = auth.slice(0, at);
    hostPort = auth.slice(at + 1);
    if (!USER.test(user))
      fail(user === '' ? 'the user before "@" is empty' : `"${user}" is not a valid user name`);
  }
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) fail('an IPv6 host needs its closing "]"');
    host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(`unexpected "${after}" after the IPv6 host`);
    if (after.startsWith(':')) portText = after.slice(1);
    if (!IPV6.test(host) || !host.includes(':')) fail(`"${host}" is not an IPv6 address`);
  } else {
    const colon = hostPort.indexOf(':');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    if (colon >= 0) portText = hostPort.slice(colon + 1);
    if (host === '') fail('the host is missing');
    if (!HOSTNAME.test(host))
      fail(`"${host}" is not a valid host name (write an IPv6 address in brackets: [::1])`);
  }
  let port: number | undefined;
  if (portText !== undefined) {
    const n = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || n < 1 || n > 65535)
      fail(`port "${portText}" is not a number from 1 to 65535`);
    port = n;
  }
  return { user, host, port, rest };
}

function cleanSegments(parts: string[], fail: (problem: string) => never): string {
  for (const p of parts) if (p === '.' || p === '..') fail(`"${p}" is not allowed in a remote path`);
  return parts.join('/');
}

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The destination argument for rsync, always ending in "/" so the source's
 * contents land inside it. An ssh port is not part of it (it goes into -e).
 */
export function rsyncDestination(url: TargetUrl): string {
  switch (url.kind) {
    case 'daemon': {
      const user = url.user ? `${url.user}@` : '';
      const port = url.port ? `:${url.port}` : '';
      return `rsync://${user}${hostPart(url.host)}${port}/${url.module}/${url.path ? `${url.path}/` : ''}`;
    }
    case 'ssh':
      return `${url.user ? `${url.user}@` : ''}${hostPart(url.host)}:${url.path}/`;
    case 'local':
      return `${url.path}/`;
  }
}

/** The URL written back in canonical form, for logs and status. */
export function formatTargetUrl(url: TargetUrl): string {
  const user = url.kind !== 'local' && url.user ? `${url.user}@` : '';
  const port = url.kind !== 'local' && url.port ? `:${url.port}` : '';
  switch (url.kind) {
    case 'daemon':
      return `rsync://${user}${hostPart(url.host)}${port}/${url.module}${url.path ? `/${url.path}` : ''}`;
    case 'ssh':
      return `ssh://${user}${hostPart(url.host)}${port}${url.path}`;
    case 'local':
      return url.path;
  }
}
