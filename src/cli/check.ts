import {
  ConfigError,
  type ConfigProblem,
  checkEnvironment,
  formatProblem,
  loadConfig,
} from '../config/index.js';
import { localRsyncVersion, SENDER_SYMLINK_FIX, senderSymlinkWarning } from '../transport/index.js';
import { EXIT } from './exit.js';

/** `syncward check -c FILE`: the config is valid, and what it names exists and is safe. */
export function runCheck(file: string, json: boolean, out: NodeJS.WritableStream = process.stdout): number {
  let problems: ConfigProblem[];
  let code: number;
  let summary = '';
  try {
    const config = loadConfig(file);
    problems = checkEnvironment(config);
    code = problems.length === 0 ? EXIT.ok : EXIT.failure;
    const targets = config.sources.reduce((n, s) => n + s.targets.length, 0);
    summary = `${file}: ${config.sources.length} source(s), ${targets} target(s)`;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems = e.problems;
    code = EXIT.usage;
  }
  // warnings leave the exit code alone: the config works, but something around it is risky
  const warnings = rsyncWarnings();
  if (json) {
    out.write(`${JSON.stringify({ file, valid: code !== EXIT.usage, problems, warnings }, null, 2)}\n`);
    return code;
  }
  if (problems.length === 0) {
    out.write(`ok: ${summary}\n`);
  } else {
    out.write(`${code === EXIT.usage ? 'invalid config' : `${summary}, but`}:\n`);
    for (const p of problems) out.write(`  - ${formatProblem(p)}\n`);
  }
  for (const w of warnings) out.write(`warning: ${w}\n`);
  return code;
}

function rsyncWarnings(): string[] {
  const version = localRsyncVersion()?.version;
  const sender = version === undefined ? null : senderSymlinkWarning(version, process.geteuid?.() === 0);
  return sender === null ? [] : [`${sender}: ${SENDER_SYMLINK_FIX.join(', ')}`];
}
