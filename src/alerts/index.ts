/**
 * The alert vocabulary, one model for every stage: the kinds a worker or the
 * daemon raises (Alert), the conditions the monitor's rules hold (Condition),
 * and the incidents that fire and resolve from them (Incident, also stored by
 * the journal). A leaf: it imports nothing, so dispatch, daemon, monitor,
 * journal and api all use it without cycles.
 */

export type Severity = 'warning' | 'critical';

/** What a target worker raises about its own pair. */
export type WorkerAlertKind = 'held' | 'stuck' | 'noSpace' | 'misconfigured' | 'down';

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
export type ConditionKind = AlertKind | 'lag' | 'auditFailed' | 'watchUsage' | 'unwatched';

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
