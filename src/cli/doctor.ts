import { execFile } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import {
  type Config,
  type RelayConfig,
  type SourceConfig,
  type TargetConfig,
  targetSpec,
  untrustedLinkProblem,
  untrustedTargetLink,
} from '../config/index.js';
import { Filter } from '../filter/index.js';
import { LOCK_FILE, stateDirProblem } from '../journal/index.js';
import { RelayWatch } from '../relay/index.js';
import {
  brokenDeleteMissingArgs,
  buildRemoteVersionCall,
  localRsyncVersion,
  type RsyncCall,
  RsyncTransport,
  rsyncEnv,
} from '../transport/index.js';
import { type BytePath, joinRel, toFs } from '../util/bytes.js';
import { silentLogger } from '../util/log.js';
import { syncwardCommand } from '../util/shell.js';
import { AUTO_FANOTIFY_DIRS, FanotifyWatcher, fanotifyRefusal, readMaxUserWatches } from '../watch/index.js';
import {
  type Check,
  doctorExitCode,
  type FileFacts,
  formatChecks,
  type InotifyLimits,
  identityFileCheck,
  instancesCheck,
  parseRsyncVersion,
  passwordFileCheck,
  queueCheck,
  relayCheck,
  rsyncCheck,
  rsyncReceiverCheck,
  rsyncSenderCheck,
  type SourceDirCount,
  targetProbeCheck,
  watcherCheck,
  watchesCheck,
} from './doctor-rules.js';

export interface DoctorOptions {
  json?: boolean;
  /** seconds a target probe may take (rsync --timeout, and the connection) */
  timeoutS?: number;
}

/**
 * `syncward doctor -c FILE`: checks everything syncward depends on outside
 * its config file, each with ok / warn / fail and the command that fixes a
 * problem. Needs no daemon; changes nothing (a probe file written into
 * state_dir is removed at once). Exit 0 all ok, 1 warnings only, 2 a failure.
 */
export async function runDoctor(
  config: Config,
  o: DoctorOptions = {},
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const checks = await doctorChecks(config, o);
  const code = doctorExitCode(checks);
  if (o.json) out.write(`${JSON.stringify({ file: config.file, exitCode: code, checks }, null, 2)}\n`);
  else out.write(formatChecks(checks));
  return code;
}

export async function doctorChecks(config: Config, o: DoctorOptions = {}): Promise<Check[]> {
  const timeoutS = o.timeoutS ?? 15;
  const euid = process.geteuid?.() ?? -1;
  // the probes are child processes: start them first, they run while the trees are walked
  const probes = config.sources.flatMap((s) =>
    s.targets.flatMap((t) => [
      targetChecks(s, t, config, timeoutS, euid),
      ...(t.relay ? [relayChecks(s, t, t.relay)] : []),
    ]),
  );
  const rsync = await rsyncFound();
  const checks: Check[] = [rsync.check];
  const sender = rsyncSenderCheck(rsync.version, euid);
  if (sender) checks.push(sender);
  // a local target's receiver is the local rsync
  if (rsync.version !== null && brokenDeleteMissingArgs(rsync.version))
    for (const s of config.sources)
      for (const t of s.targets)
        if (t.parsed.kind === 'local')
          checks.push(rsyncReceiverCheck(`${s.name}/${t.name}`, rsync.version, 'the local rsync'));
  checks.push(stateDirCheck(config.stateDir, euid), daemonCheck(config.stateDir, config.file));
  const counts: SourceDirCount[] = [];
  for (const s of config.sources) {
    const c = sourceCheck(s, euid);
    checks.push(c);
    if (c.status === 'fail') continue;
    const dirs = countWatchedDirs(s);
    const wanted =
      s.watcher === 'fanotify' || (s.watcher === 'auto' && dirs !== null && dirs > AUTO_FANOTIFY_DIRS);
    const w = watcherCheck(
      s.name,
      s.watcher,
      dirs,
      AUTO_FANOTIFY_DIRS,
      wanted ? await fanotifyRefusedFor(s.path) : undefined,
    );
    checks.push(w.check);
    if (w.inotify) counts.push({ source: s.name, dirs });
  }
  const limits = readInotifyLimits();
  checks.push(
    watchesCheck(limits, counts, config.alerts.watchUsageAbove),
    instancesCheck(limits, config.sources.length),
    queueCheck(limits),
  );
  for (const p of await Promise.all(probes)) checks.push(...p);
  return checks;
}

// ---- rsync -------------------------------------------------------------------

function onPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

async function rsyncFound(): Promise<{ check: Check; version: string | null }> {
  const path = onPath('rsync');
  if (!path) return { check: rsyncCheck(null), version: null };
  const version = parseRsyncVersion(await versionText({ argv: ['rsync', '--version'], env: {} }));
  return { check: rsyncCheck({ path, version }), version: version?.version ?? null };
}

/** What `rsync --version` (here or on a target) printed; "" when it could not run. */
function versionText(call: RsyncCall, timeoutMs = 10_000): Promise<string> {
  const [cmd, ...args] = call.argv;
  return new Promise<string>((resolve) => {
    execFile(
      cmd as string,
      args,
      { timeout: timeoutMs, env: rsyncEnv(process.env, call.env) },
      (_e, stdout) => resolve(String(stdout ?? '')),
    );
  });
}

// ---- state_dir -----------------------------------------------------------------

function stateDirCheck(dir: string, euid: number): Check {
  const name = 'state_dir';
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR')
      return { name, status: 'fail', message: `${dir}: ${err.message}` };
    // the nearest directory that exists must let us create the rest
    let parent = dirname(dir);
    for (;;) {
      try {
        if (statSync(parent).isDirectory()) break;
        return {
          name,
          status: 'fail',
          message: `${dir} cannot be created: ${parent} is not a directory`,
          fix: [`set state_dir to a directory path (mkdir -p DIR)`],
        };
      } catch {
        if (parent === dirname(parent)) break;
        parent = dirname(parent);
      }
    }
    try {
      accessSync(parent, constants.W_OK | constants.X_OK);
    } catch (e2) {
      return {
        name,
        status: 'fail',
        message: `${dir} does not exist, and this user (uid ${euid}) cannot create it in ${parent} (${(e2 as NodeJS.ErrnoException).code})`,
        fix: [`mkdir -p ${dir} && chown ${euid} ${dir}`],
      };
    }
    const unsafeAbove = stateDirProblem(dir, euid);
    if (unsafeAbove) return { name, status: 'fail', message: unsafeAbove };
    return { name, status: 'ok', message: `${dir} does not exist yet; syncward creates it at start` };
  }
  if (!st.isDirectory())
    return {
      name,
      status: 'fail',
      message: `${dir} is not a directory`,
      fix: ['set state_dir to a directory of its own, e.g. /var/lib/syncward'],
    };
  // root passes access(W_OK) on any directory: only writing tells (read-only mount, immutable)
  const probe = join(dir, `.doctor-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      name,
      status: 'fail',
      message: `${dir} is not writable by this user (uid ${euid}): ${code}; the journal, lock and control socket live there`,
      fix:
        code === 'EROFS'
          ? [
              `${dir} is on a read-only file system: use another state_dir (under systemd: ReadWritePaths=${dir})`,
            ]
          : [`chown -R ${euid} ${dir} && chmod 700 ${dir}`],
    };
  }
  const unsafe = stateDirProblem(dir, euid);
  if (unsafe) return { name, status: 'fail', message: unsafe };
  return { name, status: 'ok', message: `${dir} is writable` };
}

function daemonCheck(stateDir: string, configFile: string | undefined): Check {
  const name = 'daemon';
  const file = join(stateDir, LOCK_FILE);
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    return { name, status: 'ok', message: `no syncward daemon runs on ${stateDir}` };
  }
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch (e) {
    alive = (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return alive
    ? {
        name,
        status: 'ok',
        message: `a syncward daemon runs on ${stateDir} (pid ${pid}); \`${syncwardCommand('status', { configFile, stateDir })}\` shows its state`,
      }
    : {
        name,
        status: 'ok',
        message: `${file} names pid ${pid}, which is gone (an unclean stop); the next start takes over and catches up every target`,
      };
}

// ---- sources and inotify -----------------------------------------------------------

/** Why fanotify cannot watch the tree at `path` here (its mark is made and dropped at once), or null when it can. */
async function fanotifyRefusedFor(path: string): Promise<string | null> {
  let w: FanotifyWatcher;
  try {
    w = new FanotifyWatcher(path);
  } catch (e) {
    return (e as Error).message;
  }
  try {
    await w.start();
    return null;
  } catch (e) {
    return fanotifyRefusal(e as NodeJS.ErrnoException);
  } finally {
    w.close();
  }
}

function sourceCheck(s: SourceConfig, euid: number): Check {
  const name = `source ${s.name}`;
  try {
    if (!statSync(s.path).isDirectory())
      return { name, status: 'fail', message: `${s.path} is not a directory`, fix: ['fix sources[].path'] };
    accessSync(s.path, constants.R_OK | constants.X_OK);
    return { name, status: 'ok', message: `${s.path} is readable` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return {
        name,
        status: 'fail',
        message: `${s.path} does not exist`,
        fix: [`mkdir -p ${s.path}   # or fix sources[].path`],
      };
    return {
      name,
      status: 'fail',
      message: `${s.path} is not readable by this user (uid ${euid}): ${code}`,
      fix: [`run syncward as a user who can read ${s.path} (root, or its owner)`],
    };
  }
}

/**
 * The directories the watcher would watch: every real directory (symlinks
 * are not followed), the root included, minus what the source's rules
 * exclude (the daemon's watcher skips the same ones). Unreadable
 * directories are counted but not entered.
 */
export function countWatchedDirs(s: Pick<SourceConfig, 'path' | 'exclude' | 'include'>): number | null {
  let filter: Filter;
  try {
    filter = new Filter({ exclude: s.exclude, include: s.include });
  } catch {
    return null;
  }
  const root = s.path;
  let n = 0;
  const stack: BytePath[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as BytePath;
    n++;
    let entries: import('node:fs').Dirent<Buffer>[];
    try {
      const abs = rel === '' ? toFs(root) : Buffer.concat([toFs(root), Buffer.from('/'), toFs(rel)]);
      entries = readdirSync(abs, { withFileTypes: true, encoding: 'buffer' });
    } catch {
      if (rel === '') return null;
      continue;
    }
    for (const ent of entries) {
      if (!ent.isDirectory()) continue;
      const child = joinRel(rel, ent.name.toString('latin1'));
      if (!filter.excludes(child, true)) stack.push(child);
    }
  }
  return n;
}

function readNumber(files: string[]): number | null {
  for (const f of files) {
    try {
      const n = Number.parseInt(readFileSync(f, 'utf8'), 10);
      if (Number.isFinite(n)) return n;
    } catch {
      // try the next
    }
  }
  return null;
}

/** The limits as this process sees them: /proc/sys/user/ holds its user namespace's own values. */
export function readInotifyLimits(): InotifyLimits {
  return {
    maxUserWatches: readMaxUserWatches(),
    maxUserInstances: readNumber([
      '/proc/sys/user/max_inotify_instances',
      '/proc/sys/fs/inotify/max_user_instances',
    ]),
    maxQueuedEvents: readNumber(['/proc/sys/fs/inotify/max_queued_events']),
  };
}

// ---- targets -----------------------------------------------------------------

function fileFacts(file: string): FileFacts {
  try {
    const st = statSync(file);
    let readable = true;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      readable = false;
    }
    return { exists: true, isFile: st.isFile(), mode: st.mode, readable, uid: st.uid };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { exists: false, error: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})` };
  }
}

async function targetChecks(
  s: SourceConfig,
  t: TargetConfig,
  config: Config,
  timeoutS: number,
  euid: number,
): Promise<Check[]> {
  const id = `${s.name}/${t.name}`;
  const checks: Check[] = [];
  if (t.passwordFile) checks.push(passwordFileCheck(id, t.passwordFile, fileFacts(t.passwordFile), euid));
  if (t.identityFile) checks.push(identityFileCheck(id, t.identityFile, fileFacts(t.identityFile), euid));
  const url = t.parsed;
  if (url.kind === 'local') {
    checks.push(localTargetCheck(id, url.path, euid));
    return checks;
  }
  if (url.kind === 'daemon' && url.user && !t.passwordFile && !process.env.RSYNC_PASSWORD) {
    checks.push({
      name: `target ${id}`,
      status: 'fail',
      message: `${t.url}: user "${url.user}" and no password_file (nor RSYNC_PASSWORD): rsync would wait at its password prompt`,
      fix: [
        `add password_file: /etc/syncward/${t.name}.pass to this target, holding the password (mode 600)`,
      ],
    });
    return checks;
  }
  const spec = {
    ...targetSpec(t, config.stateDir),
    rsyncVersion: localRsyncVersion()?.version,
    // no ControlMaster: a probe must not leave an ssh master running after doctor exits
    controlPath: undefined,
    timeoutS: Math.min(t.timeoutS, timeoutS),
    contimeoutS: Math.min(t.timeoutS, timeoutS),
  };
  const transport = new RsyncTransport({
    // the probe reads nothing of the source
    source: { root: s.path, filterArgs: [], delete: s.delete },
    target: spec,
    isRoot: euid === 0,
    timeoutMs: () => (timeoutS + 5) * 1000,
  });
  const r = await transport.probe();
  const probe = targetProbeCheck(id, t.url, url.kind, {
    class: r.class,
    code: r.code,
    message: r.message,
    rsyncMessage: r.detail,
    durationMs: r.durationMs,
    argv: r.command,
  });
  checks.push(probe);
  const versionCall = buildRemoteVersionCall(spec);
  if (probe.status === 'ok' && versionCall) {
    const version = parseRsyncVersion(await versionText(versionCall, (timeoutS + 5) * 1000));
    checks.push(rsyncReceiverCheck(id, version?.version ?? null, `the rsync on ${url.host}`));
  }
  return checks;
}

/** A relay target's API, read once as the daemon's RelayWatch reads it. */
async function relayChecks(s: SourceConfig, t: TargetConfig, relay: RelayConfig): Promise<Check[]> {
  const watch = new RelayWatch({ source: s.name, target: t.name, config: relay, log: silentLogger() });
  await watch.readNow();
  watch.stop();
  return [relayCheck(`${s.name}/${t.name}`, watch.status(), relay.tokenFile)];
}

function localTargetCheck(id: string, path: string, euid: number): Check {
  const name = `target ${id}`;
  const link = untrustedTargetLink(path, euid);
  if (link) return { name, status: 'fail', ...untrustedLinkProblem(path, link, euid) };
  let dir = path;
  let exists = true;
  for (;;) {
    try {
      if (!statSync(dir).isDirectory())
        return { name, status: 'fail', message: `${dir} is not a directory`, fix: ['fix the target url'] };
      break;
    } catch {
      exists = false;
      if (dir === dirname(dir)) break;
      dir = dirname(dir);
    }
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      name,
      status: 'fail',
      message: `${exists ? path : `${path} does not exist and ${dir}`} is not writable by this user (uid ${euid}): ${code}`,
      fix:
        code === 'EROFS'
          ? [`${dir} is on a read-only file system (under systemd: ReadWritePaths=${path})`]
          : [`mkdir -p ${path} && chown ${euid} ${path}`],
    };
  }
  return exists
    ? { name, status: 'ok', message: `${path} is a writable directory` }
    : { name, status: 'ok', message: `${path} does not exist yet; the first sync creates it (--mkpath)` };
}
