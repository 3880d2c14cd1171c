/**
 * The alert vocabulary, one model for every stage: the kinds a worker or the
 * daemon raises (Alert), the conditions the monitor's rules hold (Condition),
 * and the incidents that fire and resolve from them (Incident, also stored by
 * the journal). A leaf: it imports nothing, so dispatch, daemon, monitor,
 * journal and api all use it without cycles.
 */

export type Severity = 'warning' | 'critical';

/**
 * What a target worker raises about its own pair: facts of one moment. A
 * target down or misconfigured is a state, not a raised alert: the rules
 * make it an incident once it has lasted down_after_s / misconfigured_after_s.
 */
export type WorkerAlertKind = 'held' | 'stuck' | 'noSpace';

/** What the daemon raises: a worker's kinds plus the source- and daemon-wide ones. */
export type AlertKind =
  | WorkerAlertKind
  | 'uncleanRestart'
  | 'overflow'
  | 'rootGone'
  | 'watchLimit'
  | 'drift'
  | 'canaryMissing';

/** What the monitor's rules can find: every raised kind plus the states only the rules see. */
export type ConditionKind =
  | AlertKind
  | 'down'
  | 'misconfigured'
  | 'lag'
  | 'auditFailed'
  | 'watchUsage'
  | 'unwatched'
  | 'relayUnreachable';

/** The one severity of each kind: the rules, the log level of a raised alert and `syncward status` use it. */
export const SEVERITY: Readonly<Record<ConditionKind, Severity>> = {
  down: 'critical',
  misconfigured: 'critical',
  held: 'critical',
  noSpace: 'critical',
  rootGone: 'critical',
  watchLimit: 'critical',
  unwatched: 'critical',
  canaryMissing: 'critical',
  stuck: 'warning',
  uncleanRestart: 'warning',
  overflow: 'warning',
  drift: 'warning',
  lag: 'warning',
  auditFailed: 'warning',
  watchUsage: 'warning',
  // the relay's own targets are not known meanwhile; the relay alerts for them itself
  relayUnreachable: 'warning',
};

/**
 * Target states in which nothing reaches the target, each with an alert of
 * its own: a missing canary there is no second alert.
 */
export const UNREACHED_STATES: ReadonlySet<string> = new Set(['down', 'misconfigured', 'held', 'paused']);

/** A raised alert as a worker emits it (the daemon adds source, target and time). */
export interface WorkerAlert {
  kind: WorkerAlertKind;
  message: string;
  paths?: string[];
}

/** A raised alert ('alert' event): a fact at one moment, which the monitor latches or re-evaluates. */
export interface Alert {
  kind: AlertKind;
  source: string;
  target?: string;
  message: string;
  paths?: string[];
  at: number;
}

/**
 * An alert as the monitor tracks it: it fires once when its condition starts
 * and resolves once when the condition ends ('incident' event, both times);
 * the journal stores it.
 */
export interface Incident {
  id: string;
  kind: string;
  severity: Severity;
  source: string;
  target?: string;
  message: string;
  firedAt: number;
  resolvedAt: number | null;
}
