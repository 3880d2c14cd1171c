/** A word as a shell would need it, for commands shown to the operator (never run through a shell). */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

/**
 * How a printed command names the daemon it is about: the config file it runs
 * with, else (`start --source ... --target ...`) its state_dir.
 */
export interface DaemonRef {
  configFile?: string;
  stateDir?: string;
}

/** The commands that find a running daemon by `--state-dir DIR` alone (through its control socket). */
const BY_STATE_DIR = new Set(['status', 'resume']);

/**
 * `syncward CMD -c FILE ARGS...` (or `--state-dir DIR` for status and resume)
 * as the operator can paste it from any directory (both paths are absolute).
 * undefined when the command needs a config file and there is none: a
 * command printed without what it needs fails as printed.
 */
export function syncwardCommand(cmd: string, ref: DaemonRef, ...args: string[]): string | undefined {
  const where = ref.configFile
    ? ['-c', ref.configFile]
    : ref.stateDir && BY_STATE_DIR.has(cmd)
      ? ['--state-dir', ref.stateDir]
      : null;
  if (where === null) return undefined;
  return ['syncward', cmd, ...where, ...args].map(shellWord).join(' ');
}

/** What an alert about drift on a target tells the operator to run (the `audit` and its `--repair`). */
export function driftAdvice(ref: DaemonRef, source: string, target: string): string {
  const audit = syncwardCommand('audit', ref, '--source', source, '--target', target);
  if (audit === undefined)
    return `a full sync repairs it (the dashboard's "Full sync", or POST /api/sources/${source}/sync)`;
  return `see \`${audit}\`, fix with \`${audit} --repair\``;
}
