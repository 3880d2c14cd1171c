import type { RsyncCall, TargetSpec } from './argv.js';
import { sshCommand } from './argv.js';
import { rsyncDestination } from './target-url.js';

/**
 * Reads one file back from a target into a local directory (the canary's
 * round trip): the same connection options as a transfer (password file,
 * ssh command with connection sharing, timeouts, the operator's rsync_args),
 * the opposite direction. --ignore-times: always copy, whatever the quick
 * check says about a file left from the last read.
 */
export function buildFetchCall(tgt: TargetSpec, relPath: string, intoDir: string): RsyncCall {
  const args = ['--ignore-times', `--timeout=${tgt.timeoutS}`];
  switch (tgt.url.kind) {
    case 'daemon':
      args.push('--no-motd', '--sockopts=TCP_NODELAY', `--contimeout=${tgt.contimeoutS}`);
      if (tgt.passwordFile) args.push(`--password-file=${tgt.passwordFile}`);
      break;
    case 'ssh':
      args.push('-e', sshCommand(tgt));
      break;
    case 'local':
      break;
  }
  const from = `${rsyncDestination(tgt.url)}${relPath.replace(/^\/+/, '')}`;
  const into = intoDir.endsWith('/') ? intoDir : `${intoDir}/`;
  return { argv: ['rsync', ...args, ...tgt.rsyncArgs, from, into], env: {} };
}
