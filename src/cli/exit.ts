/** What syncward's exit codes mean, for every command. */
export const EXIT = {
  ok: 0,
  /** the command ran and found or hit a problem (a failed transfer, an invalid environment) */
  failure: 1,
  /** the command could not run as asked: bad arguments or an invalid config */
  usage: 2,
} as const;
