import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type Config, ConfigError, configFromArgs, loadConfig } from '../config/index.js';
import { VERSION } from '../util/version.js';
import type { DaemonAt } from './daemon-at.js';
import { EXIT } from './exit.js';

// Each command's implementation is imported when that command runs: `start`
// then does not load what only other commands use (fast-xml-parser, the
// doctor's probes, ...), which keeps the daemon's memory down. The command
// definitions below are all commander needs for --help.

/** Loads the config named by -c, or builds one from --source/--target. Errors exit with EXIT.config. */
export function configFromOptions(o: {
  config?: string;
  source?: string;
  target?: string[];
  passwordFile?: string;
  exclude?: string[];
  stateDir?: string;
  delayMs?: string;
  api?: string;
}): Config {
  if (o.config && o.source) usage('give either -c FILE or --source/--target, not both');
  if (o.config && o.api) usage(`--api is for --source/--target; with -c, set api.listen in ${o.config}`);
  if (o.config && o.stateDir)
    usage(`--state-dir is for --source/--target; with -c, set state_dir in ${o.config}`);
  if (o.config) return loadConfig(o.config);
  if (o.source) {
    if (!o.target || o.target.length === 0) usage('--source needs at least one --target URL');
    return configFromArgs({
      source: o.source,
      targets: o.target,
      passwordFile: o.passwordFile,
      exclude: o.exclude,
      stateDir: o.stateDir,
      delayMs: o.delayMs === undefined ? undefined : Number(o.delayMs),
      api: o.api,
    });
  }
  return usage('missing -c FILE (or --source DIR --target URL for start)');
}

/** The running daemon `status`, `pause` and `resume` talk to: -c FILE or --state-dir DIR. */
function daemonAt(o: { config?: string; stateDir?: string }): DaemonAt {
  if (o.config && o.stateDir) usage('give either -c FILE or --state-dir DIR, not both');
  if (o.config) return { config: loadConfig(o.config) };
  if (o.stateDir) return { stateDir: resolve(o.stateDir) };
  return usage('missing -c FILE (or --state-dir DIR for a daemon started with --source/--target)');
}

function usage(message: string): never {
  throw new CommanderError(EXIT.usage, 'syncward.usage', `error: ${message}`);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** --allow-deletes N: a whole number */
function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('a whole number of deletions (0 or more)');
  return n;
}

/** The delete guard, as sync and audit --repair explain it. */
const GUARD_HELP = `Safety (the daemon's holds): A sync that would delete on a target while the source root is
empty or missing (a failed mount?), or that would delete more than the target's max_delete
(counted with a dry run first), is refused: nothing is sent to that target and the exit code is 1.
--allow-empty-source and --allow-deletes N override, for this run only.`;

export function buildProgram(): Command {
  const program = new Command();
  // before the commands are added, so each inherits them: a missing required
  // option of `status` then exits 2 (usage), not commander's own exit 1
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .name('syncward')
    .description(
      'Mirror directory trees to many servers in near real time (inotify + rsync),\nand detect, report and repair every way a mirror can go wrong.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failure (a transfer failed, problems found), 2 usage or config error.
Docs: README.md (quick start), docs/operations.md, docs/alerts.md, docs/configuration.md.`,
    );

  program
    .command('start')
    .description('run the daemon in the foreground (systemd style); logs go to stderr')
    .option('-c, --config <file>', 'YAML config file')
    .option('--source <dir>', 'source directory (instead of a config file)')
    .option(
      '--target <url>',
      'target URL, repeatable: rsync://user@host[:port]/module, ssh://user@host[:port]/path, /local/path',
      collect,
    )
    .option('--password-file <file>', 'password file for rsync:// targets given with --target')
    .option('--exclude <pattern>', 'rsync exclude pattern, repeatable', collect)
    .option('--delay-ms <ms>', 'extra coalescing window (default 0: send as soon as the target is idle)')
    .option(
      '--state-dir <dir>',
      'state directory when no config file is given (default: one per source and target list, e.g. ~/.local/state/syncward/www-0123456789ab)',
    )
    .option(
      '--api <host:port>',
      'API and dashboard address when no config file is given: host:port, port 0 for any free port, or off (default 127.0.0.1:0)',
    )
    .addOption(new Option('--log-format <format>', 'log format').choices(['auto', 'json', 'pretty']))
    .addOption(
      new Option('--log-level <level>', 'lowest level logged').choices(['debug', 'info', 'warn', 'error']),
    )
    .addHelpText(
      'after',
      `
Examples:
  syncward start -c /etc/syncward/syncward.yaml
  syncward start --source /srv/www --target rsync://www@10.0.0.2/www --password-file /etc/syncward/web.pass \\
                 --target ssh://deploy@10.0.0.3/srv/www --target /backup/www

Stops cleanly on SIGTERM or SIGINT: finishes the transfer in flight (up to 10 s), then exits 0.`,
    )
    .action(async (o) => {
      const config = configFromOptions(o);
      if (o.logFormat) config.log.format = o.logFormat;
      if (o.logLevel) config.log.level = o.logLevel;
      const { runStart } = await import('./start.js');
      process.exitCode = await runStart(config);
    });

  program
    .command('sync')
    .description('run one full sync of every source to every target now, then exit')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--source <name>', 'only this source')
    .option('--target <name>', 'only this target')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--json', 'print a JSON summary on stdout')
    .option('--allow-deletes <n>', 'allow up to N deletions per target, even past max_delete', parseCount)
    .option('--allow-empty-source', 'sync even from an empty source root (the targets are emptied too)')
    .addHelpText(
      'after',
      `\nProgress (from rsync's --info=progress2) goes to stderr: a bar per target on a terminal, a line every 5 s otherwise, nothing with --json.\n${GUARD_HELP}\nExit codes: 0 every target in sync, 1 a target failed or was refused, 2 usage or config error.`,
    )
    .action(async (o) => {
      const { runSync } = await import('./sync.js');
      process.exitCode = await runSync(loadConfig(o.config), o);
    });

  program
    .command('audit')
    .description(
      'compare every source with each of its targets (rsync dry run) and report the drift, then exit',
    )
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--source <name>', 'only this source')
    .option('--target <name>', 'only this target')
    .option('--checksum', 'compare file contents, not just size and mtime (reads every file on both sides)')
    .option('--json', 'print every drift entry as JSON on stdout')
    .option(
      '--repair',
      'send exactly the drifted paths to the target, then audit again (exit 0 if it is in sync now)',
    )
    .option(
      '--allow-deletes <n>',
      'with --repair: allow up to N deletions per target, even past max_delete',
      parseCount,
    )
    .option(
      '--allow-empty-source',
      'with --repair: repair even from an empty source root (deletes everything on the target)',
    )
    .addHelpText(
      'after',
      `\nKinds: missing (not on the target), extra (only on the target), content, metadata (mode, owner, mtime, symlink target).\nProgress (entries checked) goes to stderr: a bar per target on a terminal, a line every 5 s otherwise, nothing with --json.\n${GUARD_HELP.replace('A sync', 'A repair')}\nExit codes: 0 every target in sync, 1 drift found (or its repair refused), 2 a target could not be audited, usage or config error.`,
    )
    .action(async (o) => {
      const { runAudit } = await import('./audit.js');
      process.exitCode = await runAudit(loadConfig(o.config), o);
    });

  program
    .command('check')
    .description('validate the config file (and the directories and files it names), then exit')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--json', 'print the problems as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 1 the config is valid but names missing or unsafe files, 2 invalid config.',
    )
    .action(async (o) => {
      const { runCheck } = await import('./check.js');
      process.exitCode = runCheck(o.config, o.json === true);
    });

  program
    .command('pause')
    .description(
      'stop sending to a target of the running daemon (every target when none is named) until resume, e.g. before maintenance on it; changes keep journaling, the pause outlives a restart',
    )
    .option('-c, --config <file>', 'YAML config file (its state_dir locates the daemon)')
    .option(
      '--state-dir <dir>',
      'instead of -c: the state_dir of the daemon (one started with --source/--target)',
    )
    .argument('[target]', 'target name, or source/target (default: every target)')
    .option('--json', "print the daemon's answer as JSON on stdout")
    .addHelpText(
      'after',
      '\nExit codes: 0 paused (or paused already), 1 the target does not exist, 2 no daemon running or config error.',
    )
    .action(async (target: string | undefined, o) => {
      const { runPause } = await import('./resume.js');
      process.exitCode = await runPause(daemonAt(o), target, o);
    });

  program
    .command('resume')
    .description(
      'lift a pause, or a safety hold (max_delete, emptied or vanished source root), on a target of the running daemon',
    )
    .option('-c, --config <file>', 'YAML config file (its state_dir locates the daemon)')
    .option(
      '--state-dir <dir>',
      'instead of -c: the state_dir of the daemon (one started with --source/--target)',
    )
    .argument(
      '[target]',
      'target name, or source/target (default: every paused target; a hold is lifted only by name)',
    )
    .option('--json', "print the daemon's answer as JSON on stdout")
    .addHelpText(
      'after',
      '\nExit codes: 0 resumed, 1 the target is not on hold or paused or does not exist, 2 no daemon running or config error.',
    )
    .action(async (target: string | undefined, o) => {
      const { runResume } = await import('./resume.js');
      process.exitCode = await runResume(daemonAt(o), target, o);
    });

  program
    .command('status')
    .description(
      "show the running daemon's state (through its API): every target's state, pending changes, lag, last sync and audit, open alerts",
    )
    .option('-c, --config <file>', 'YAML config file (its api.listen or state_dir locates the daemon)')
    .option(
      '--state-dir <dir>',
      'instead of -c: the state_dir of the daemon (one started with --source/--target), asked through its control socket',
    )
    .option('--json', "print the daemon's /api/status answer (and the verdict) as JSON on stdout")
    .addHelpText(
      'after',
      '\nExit codes (Nagios): 0 ok; 1 warning (lagging, stuck paths, drift in the last audit, warning alerts);\n2 critical (a target down, misconfigured or on hold, critical alerts, no daemon answering, config error).',
    )
    .action(async (o) => {
      const { runStatus } = await import('./status.js');
      process.exitCode = await runStatus(daemonAt(o), { json: o.json === true });
    });

  program
    .command('doctor')
    .description(
      'check what syncward depends on: rsync, inotify limits against the directory count, password and key files, each target reachable and logging in, state_dir',
    )
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--json', 'print the checks as JSON on stdout')
    .option('--timeout <s>', 'seconds each target probe may take', '15')
    .addHelpText(
      'after',
      '\nEach problem comes with the command that fixes it. Changes nothing.\nExit codes: 0 all ok, 1 warnings only, 2 a check failed (or an invalid config).',
    )
    .action(async (o) => {
      const timeoutS = Number(o.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage('--timeout needs a number of seconds');
      const { runDoctor } = await import('./doctor.js');
      process.exitCode = await runDoctor(loadConfig(o.config), { json: o.json === true, timeoutS });
    });

  program
    .command('alert-test')
    .description(
      'send one test alert through every configured alert channel (webhooks, commands, e-mail) and report each; no daemon needed',
    )
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--json', 'print each channel and its result as JSON on stdout')
    .addHelpText(
      'after',
      "\nEach channel gets one try (10 s), all at once: a failure shows with its reason (HTTP status, the service's errcode, the SMTP reply).\nExit codes: 0 every channel took it, 1 a channel failed, 2 no channel configured, usage or config error.",
    )
    .action(async (o) => {
      const { runAlertTest } = await import('./alert-test.js');
      process.exitCode = await runAlertTest(loadConfig(o.config), { json: o.json === true });
    });

  program
    .command('init')
    .description('write a commented starter config (default ./syncward.yaml); "-" or --stdout prints it')
    .argument('[file]', 'where to write it')
    .option('--force', 'replace an existing file')
    .option('--stdout', 'print the config instead of writing a file')
    .addHelpText(
      'after',
      '\nExit codes: 0 written, 1 the file exists (without --force) or cannot be written.',
    )
    .action(async (file: string | undefined, o) => {
      const { runInit } = await import('./init.js');
      process.exitCode = runInit(file, o);
    });

  program
    .command('rsyncd-config')
    .description(
      "print an rsyncd.conf module for a syncward target, and write the daemon's secrets file and syncward's password file (mode 600)",
    )
    .requiredOption('--module <name>', 'module name (the URL is rsync://USER@HOST/NAME)')
    .requiredOption('--path <dir>', 'absolute directory behind the module')
    .requiredOption('--user <user>', 'auth user syncward logs in as')
    .option('--secrets <file>', "daemon's secrets file to write (default /etc/rsyncd.NAME.secrets)")
    .option('--password-file <file>', "syncward's password file to write (default ./NAME.pass)")
    .option(
      '--hosts-allow <hosts>',
      'only these clients (addresses, CIDRs, names; comma-separated, repeatable)',
      collect,
    )
    .option('--uid <user>', 'user the daemon writes files as (default root: owners are kept)')
    .option('--gid <group>', 'group the daemon writes files as (default root)')
    .option('--no-chroot', '"use chroot = no", for a daemon not running as root')
    .option('--force', 'replace existing secrets and password files')
    .addHelpText(
      'after',
      `
The password is RSYNC_PASSWORD when set, else generated. The module goes to stdout:
  syncward rsyncd-config --module www --path /srv/www --user syncward >> /etc/rsyncd.conf
Exit codes: 0 done, 1 a file could not be written, 2 bad options or a file exists (without --force).`,
    )
    .action(async (o) => {
      const { runRsyncdConfig } = await import('./rsyncd-config.js');
      process.exitCode = runRsyncdConfig(o);
    });

  program
    .command('import-sersync')
    .description(
      'print the syncward YAML equivalent of sersync confxml.xml files, one source each (warnings go to stderr)',
    )
    .argument('<file...>', "sersync's confxml.xml (one per sersync process)")
    .option('--state-dir <dir>', 'state_dir written into the config', '/var/lib/syncward')
    .addHelpText(
      'after',
      `
Example:
  syncward import-sersync /opt/sersync/confxml.xml > /etc/syncward/syncward.yaml
  syncward check -c /etc/syncward/syncward.yaml
  syncward import-sersync /opt/sersync/www.xml /opt/sersync/img.xml > syncward.yaml   # one config for both
What converts and what changes: docs/migration.md.
Exit codes: 0 imported (read the warnings), 2 the file cannot be read or is not a usable sersync config.`,
    )
    .action(async (files: string[], o) => {
      const { runImportSersync } = await import('./import-sersync.js');
      process.exitCode = runImportSersync(files, { stateDir: o.stateDir });
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.ok;
      if (e.code === 'syncward.usage') process.stderr.write(`${e.message}\n(run with --help for usage)\n`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`syncward: ${e.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`syncward: ${(e as Error).message}\n`);
    if (process.env.SYNCWARD_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return EXIT.failure;
  }
}
