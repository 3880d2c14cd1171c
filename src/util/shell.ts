/** A word as a shell would need it, for commands shown to the operator (never run through a shell). */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

/** `syncward CMD -c FILE ARGS...` as the operator can paste it from any directory (FILE is absolute). */
export function syncwardCommand(cmd: string, configFile: string | undefined, ...args: string[]): string {
  const words = ['syncward', cmd, ...(configFile ? ['-c', configFile] : []), ...args];
  return words.map(shellWord).join(' ');
}
