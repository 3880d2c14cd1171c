import type { RsyncCall, TargetSpec } from './argv.js';
import { readArgs } from './argv.js';
import { rsyncDestination } from './target-url.js';

/**
 * Reads one file back from a target into a local directory (the canary's
 * round trip): the same connection options as a transfer (password file,
 * ssh command with connection sharing, timeouts, the operator's rsync_args),
 * the opposite direction. --ignore-times: always copy, whatever the quick
 * check says about a file left from the last read.
 */
export function buildFetchCall(tgt: TargetSpec, relPath: string, intoDir: string): RsyncCall {
  const from = `${rsyncDestination(tgt.url)}${relPath.replace(/^\/+/, '')}`;
  const into = intoDir.endsWith('/') ? intoDir : `${intoDir}/`;
  return { argv: ['rsync', '--ignore-times', ...readArgs(tgt), ...tgt.rsyncArgs, from, into], env: {} };
}
