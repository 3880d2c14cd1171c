/**
 * Alert rules: which conditions hold right now, as a pure function of a
 * snapshot of the daemon's state. The monitor turns the difference between
 * two evaluations into incidents (fire once, resolve once).
 *
 * Facts that are events rather than states (an unclean restart, a full
 * disk, a watch that could not be added, the last audit that completed) are
 * latched by the monitor and come in as data, so this stays pure.
 */

import { type ConditionKind, SEVERITY, type Severity, UNREACHED_STATES } from '../alerts/index.js';
import { driftAdvice, syncwardCommand } from '../util/shell.js';
import { eventQueue } from '../watch/limits.js';

export type { ConditionKind, Severity };

export interface Condition {
  /** stable while the condition lasts: kind + source + target */
  id: string;
  kind: ConditionKind;
  severity: Severity;
  source: string;
  target?: string;
  /** what is wrong and what to do */
  message: string;
}

/** The thresholds of config `alerts` (seconds; watch usage as a share of the limit). */
export interface RulesConfig {
  downAfterS: number;
  misconfiguredAfterS: number;
  lagAboveS: number;
  watchUsageAbove: number;
  unwatchedAfterS: number;
  /** the config file the daemon runs with: `syncward resume -c FILE` in a held alert */
  configFile?: string;
  /** its state_dir: `syncward resume --state-dir DIR` when it runs without a config file */
  stateDir?: string;
}

/** The parts of an audit result the rules read (daemon AuditSummary). */
export interface RuleAudit {
  at: number;
  checksum: boolean;
  error: string | null;
  drift: { missing: number; extra: number; content: number; metadata: number };
}

/** The parts of a target's status the rules read (daemon TargetStatus fits). */
export interface RuleTarget {
  target: string;
  state: string;
  stateSince: number;
  stateReason: string;
  pending: number;
  oldestPendingAt: number | null;
  stuck: number;
  holdReason: string | null;
  lastSuccessAt: number | null;
  lastFullSyncAt: number | null;
  lastError: string | null;
  lastAudit: RuleAudit | null;
  canary: { lagMs: number | null; missingSince: number | null } | null;
  /** the target is a relay tier: how its API answers (daemon RelayStatus fits) */
  relay?: RuleRelay | null;
}

/** The parts of a relay's status the rules read: whether its API answers, not how its targets fare. */
export interface RuleRelay {
  api: string;
  state: string;
  since: number | null;
  error: string | null;
  leaves: { target: string }[];
}

/** The parts of a source's status the rules read (daemon SourceStatus fits). */
export interface RuleSource {
  name: string;
  path: string;
  state: string;
  /** the backend watching it (daemon SourceStatus); inotify when absent */
  watcher?: 'inotify' | 'fanotify' | null;
  watchedDirs: number;
  maxUserWatches: number | null;
  lastOverflowAt: number | null;
  /** the overflows since the targets' last catch-up: one alert for a burst of them (daemon SourceStatus) */
  overflowSpell?: { since: number; count: number } | null;
  /** directories that could not be listed or watched, retried meanwhile (daemon UnwatchedSummary) */
  unwatched?: { dirs: number; since: number | null; codes: string[]; sample: string[] };
  targets: RuleTarget[];
}

/** What the rules see: the daemon's status plus the facts the monitor latched. */
export interface Snapshot {
  /** when this daemon started */
  startedAt: number;
  /** set when this run started after an unclean stop; latched until every target had a full sync after startedAt */
  uncleanRestartAt: number | null;
  sources: RuleSource[];
  /** "source/target" -> when the target reported a full disk; latched until it next succeeds */
  noSpaceAt: Record<string, number>;
  /** source -> the last watch-limit message; a condition while directories stay unwatched for lack of watches */
  watchLimit: Record<string, { at: number; message: string }>;
  /** "source/target" -> the last audit that ran to completion (an audit that failed does not clear drift) */
  lastCompletedAudit: Record<string, RuleAudit>;
}

export const conditionId = (kind: string, source: string, target?: string): string =>
  `${kind}:${source}${target === undefined ? '' : `/${target}`}`;

/** A duration in whole seconds: "61 s". */
export const secs = (ms: number): string => `${Math.max(0, Math.round(ms / 1000))} s`;

/** How long ago, for people: "45 s ago", "12 min ago", "3 h ago" (an alert is read later than it was written). */
export const ago = (now: number, at: number): string => {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
};

function cond(kind: ConditionKind, source: string, target: string | undefined, message: string): Condition {
  return { id: conditionId(kind, source, target), kind, severity: SEVERITY[kind], source, target, message };
}

/** Every condition that holds at `now`, in a stable order. */
export function evaluate(snap: Snapshot, rules: RulesConfig, now: number): Condition[] {
  const out: Condition[] = [];
  if (snap.uncleanRestartAt !== null) {
    const behind = snap.sources.flatMap((s) =>
      s.targets
        .filter((t) => t.lastFullSyncAt === null || t.lastFullSyncAt < snap.startedAt)
        .map((t) => `${s.name}/${t.target}`),
    );
    if (behind.length > 0)
      out.push(
        cond(
          'uncleanRestart',
          '*',
          undefined,
          `syncward restarted after an unclean stop (crash, kill -9, power loss); ${behind.length} target(s) still wait for their catch-up full sync (${behind.slice(0, 5).join(', ')}${behind.length > 5 ? ', ...' : ''}); nothing to do unless this stays: then check those targets`,
        ),
      );
  }
  for (const s of snap.sources) sourceRules(s, snap, rules, now, out);
  return out;
}

function sourceRules(s: RuleSource, snap: Snapshot, rules: RulesConfig, now: number, out: Condition[]): void {
  const src = s.name;
  if (s.state === 'rootGone')
    out.push(
      cond(
        'rootGone',
        src,
        undefined,
        `source ${src}: the source root ${s.path} vanished, was unmounted or replaced; every target is on hold so nothing is deleted on them; restore or remount it, then send syncward SIGHUP (or restart it)`,
      ),
    );
  const wl = snap.watchLimit[src];
  const unwatched = s.unwatched;
  // the watch limit holds for as long as directories wait for a watch (ENOSPC); retries lift it once raised
  if (wl && unwatched?.codes.includes('ENOSPC'))
    out.push(
      cond(
        'watchLimit',
        src,
        undefined,
        // the watcher's message names the limit, what is unwatched and the sysctl to run: said once
        `source ${src}: ${wl.message} syncward retries and watches them by itself once the limit is raised`,
      ),
    );
  if (s.state === 'missing')
    out.push(
      cond(
        'unwatched',
        src,
        undefined,
        `source ${src}: ${s.path} cannot be watched (it does not exist, is not a directory, or inotify could not start there: the log says which); nothing in it is synced meanwhile; fix it, syncward looks again every 10 s`,
      ),
    );
  else if (
    unwatched &&
    unwatched.dirs > 0 &&
    unwatched.since !== null &&
    now - unwatched.since >= rules.unwatchedAfterS * 1000
  )
    out.push(
      cond(
        'unwatched',
        src,
        undefined,
        `source ${src}: ${unwatched.dirs} director${unwatched.dirs === 1 ? 'y' : 'ies'} could not be listed or watched for ${secs(now - unwatched.since)} (${unwatched.codes.join(', ')}: ${unwatched.sample.join(', ')}${unwatched.dirs > unwatched.sample.length ? ', ...' : ''}); changes inside are not seen meanwhile. ${unwatchedAdvice(unwatched.codes)} syncward keeps retrying, then sends them whole and runs a full sync`,
      ),
    );
  if (s.maxUserWatches !== null && s.maxUserWatches > 0) {
    const share = s.watchedDirs / s.maxUserWatches;
    if (share > rules.watchUsageAbove)
      out.push(
        cond(
          'watchUsage',
          src,
          undefined,
          `source ${src}: ${s.watchedDirs} watched directories use ${Math.round(share * 100)}% of fs.inotify.max_user_watches (${s.maxUserWatches}), above ${Math.round(rules.watchUsageAbove * 100)}%; raise it before new directories go unwatched: sysctl -w fs.inotify.max_user_watches=${s.maxUserWatches * 2} (and persist it in /etc/sysctl.d)`,
        ),
      );
  }
  if (s.lastOverflowAt !== null) {
    const overflowAt = s.lastOverflowAt;
    const behind = s.targets.filter((t) => t.lastFullSyncAt === null || t.lastFullSyncAt <= overflowAt);
    const spell = s.overflowSpell;
    const times =
      spell && spell.count > 1
        ? ` ${spell.count} times (the first ${ago(now, spell.since)})`
        : ` ${ago(now, overflowAt)}`;
    const queue = eventQueue(s.watcher ?? 'inotify');
    if (behind.length > 0)
      out.push(
        cond(
          'overflow',
          src,
          undefined,
          `source ${src}: the kernel's ${queue.name} overflowed${times} and events were lost; a catch-up full sync is still due on ${behind.map((t) => t.target).join(', ')}; if this repeats, raise ${queue.sysctl}`,
        ),
      );
  }
  for (const t of s.targets) targetRules(src, t, snap, rules, now, out);
}

/** What to do about directories that stay unwatched, by the errno names seen. */
function unwatchedAdvice(codes: string[]): string {
  const out: string[] = [];
  if (codes.includes('EMFILE'))
    out.push(
      'syncward is out of file descriptors: raise LimitNOFILE (systemd) or ulimit -n, and look for what holds them (API clients, ls /proc/PID/fd).',
    );
  if (codes.includes('ENFILE'))
    out.push('The system file table is full: raise fs.file-max or find the process that fills it.');
  if (codes.includes('ENOMEM')) out.push('The kernel is short of memory.');
  if (codes.includes('ENOSPC')) out.push('No inotify watches left: raise fs.inotify.max_user_watches.');
  if (codes.includes('EACCES')) out.push('Give syncward read and execute permission on those directories.');
  return out.length > 0 ? out.join(' ') : 'Check the directories and the log.';
}

function targetRules(
  src: string,
  t: RuleTarget,
  snap: Snapshot,
  rules: RulesConfig,
  now: number,
  out: Condition[],
): void {
  const tg = t.target;
  const key = `${src}/${tg}`;
  const why = t.lastError ?? t.stateReason;
  if (t.state === 'down' && now - t.stateSince >= rules.downAfterS * 1000)
    out.push(
      cond(
        'down',
        src,
        tg,
        `target ${key} has been down for ${secs(now - t.stateSince)}: ${why}; its changes wait in the journal until it is back; check that the host and its rsync daemon or sshd are up and reachable`,
      ),
    );
  if (t.state === 'misconfigured' && now - t.stateSince >= rules.misconfiguredAfterS * 1000)
    out.push(cond('misconfigured', src, tg, `target ${key} is misconfigured: ${why}; ${fixConfig(rules)}`));
  if (t.holdReason !== null)
    out.push(
      cond(
        'held',
        src,
        tg,
        `target ${key} is on hold: ${t.holdReason}; nothing is sent to it until an operator checks and ${pasted(syncwardCommand('resume', rules, key), (c) => `runs: ${c}`, 'resumes it')}`,
      ),
    );
  // paused by an operator (maintenance): its changes wait on purpose, and its canary with them
  const paused = t.state === 'paused';
  const limit = rules.lagAboveS * 1000;
  const pendingLag = t.oldestPendingAt === null || paused ? null : now - t.oldestPendingAt;
  const canaryLag = paused ? null : (t.canary?.lagMs ?? null);
  if ((pendingLag !== null && pendingLag > limit) || (canaryLag !== null && canaryLag > limit)) {
    const parts: string[] = [];
    if (pendingLag !== null && pendingLag > limit)
      parts.push(`its oldest pending change is ${secs(pendingLag)} old (${t.pending} pending)`);
    if (canaryLag !== null && canaryLag > limit) parts.push(`the canary took ${secs(canaryLag)} to arrive`);
    out.push(
      cond(
        'lag',
        src,
        tg,
        `target ${key} lags: ${parts.join(' and ')}, above ${rules.lagAboveS} s; check its bandwidth and load${pasted(syncwardCommand('status', rules), (c) => ` (${c} shows its queue)`, '')}`,
      ),
    );
  }
  // a target that is down, misconfigured, held or paused cannot get the canary: its own state says why
  if (t.canary?.missingSince != null && !UNREACHED_STATES.has(t.state))
    out.push(
      cond(
        'canaryMissing',
        src,
        tg,
        `target ${key}: the canary written ${secs(now - t.canary.missingSince)} ago has not arrived although transfers may look fine: the watcher or the transfer path is dead; check the logs, ${driftAdvice(rules, src, tg)}, restart syncward if it persists`,
      ),
    );
  const audit = snap.lastCompletedAudit[key];
  if (audit) {
    const d = audit.drift;
    const total = d.missing + d.extra + d.content + d.metadata;
    if (total > 0)
      out.push(
        cond(
          'drift',
          src,
          tg,
          `target ${key} differs from the source (${audit.checksum ? 'checksum ' : ''}audit ${ago(now, audit.at)}): ${d.missing} missing, ${d.extra} extra, ${d.content} content, ${d.metadata} metadata; someone may have changed the target by hand: ${driftAdvice(rules, src, tg)}`,
        ),
      );
  }
  if (t.lastAudit?.error)
    out.push(
      cond(
        'auditFailed',
        src,
        tg,
        `target ${key}: the audit could not run: ${t.lastAudit.error}; drift cannot be checked until it can`,
      ),
    );
  if (t.stuck > 0)
    out.push(
      cond(
        'stuck',
        src,
        tg,
        `target ${key}: ${t.stuck} path(s) keep failing and are stuck (see the log for the paths and rsync's message, often permissions or a vanished parent); fix the cause, they are retried when they change and after each full sync`,
      ),
    );
  const r = t.relay;
  // only the relays this daemon feeds: a tier further down is its own relay's to alert for, as are all leaves
  if (r?.state === 'unreachable' && r.since !== null && now - r.since >= rules.downAfterS * 1000) {
    const names = r.leaves.map((l) => l.target);
    out.push(
      cond(
        'relayUnreachable',
        src,
        tg,
        `target ${key} is a relay whose API ${r.api} cannot be read for ${secs(now - r.since)} (${r.error}): ${names.length > 0 ? `its targets ${names.join(', ')} show as unknown here` : 'its targets are not known here'}, not as in sync (the relay keeps alerting for them itself, if it runs); check that its syncward runs and that its api.listen is reachable from here, with relay.token_file matching its api.token_file`,
      ),
    );
  }
  const noSpace = snap.noSpaceAt[key];
  if (noSpace !== undefined && (t.lastSuccessAt === null || t.lastSuccessAt <= noSpace))
    out.push(
      cond(
        'noSpace',
        src,
        tg,
        `target ${key} is out of disk space (or quota), first seen ${ago(now, noSpace)}; free space on the target, syncward retries by itself`,
      ),
    );
}

/** How to fix a misconfigured target: the config file and SIGHUP, a password where it lives (read at each call), or (started without one) the command line. */
function fixConfig(rules: RulesConfig): string {
  const doctor = syncwardCommand('doctor', rules);
  if (doctor === undefined)
    return 'fix the --target URL or --password-file syncward was started with, then start it again';
  return `a wrong URL, module or user is fixed in ${rules.configFile}, then SIGHUP; a wrong password in the password file or the daemon's secrets, and syncward retries by itself (\`${doctor}\` shows the details)`;
}

/** A command the operator can paste, in backticks, put into words; `otherwise` when there is none. */
function pasted(command: string | undefined, words: (c: string) => string, otherwise: string): string {
  return command === undefined ? otherwise : words(`\`${command}\``);
}
