import { Cron } from 'croner';

export interface ScheduledJob {
  /** what it is, for logs: "full sync of www" */
  name: string;
  cron: string;
  run: () => void;
}

/**
 * Cron-driven jobs (periodic full syncs, audits). A job whose previous run is
 * still going is the caller's business: the dispatcher merges a full-sync
 * request into one already queued.
 */
export class Scheduler {
  private readonly jobs: Cron[] = [];

  add(job: ScheduledJob): void {
    this.jobs.push(new Cron(job.cron, { name: job.name, protect: true }, job.run));
  }

  /** When each job runs next, for status. */
  nextRuns(): { name: string; next: Date | null }[] {
    return this.jobs.map((j) => ({ name: j.name ?? '', next: j.nextRun() }));
  }

  stop(): void {
    for (const j of this.jobs) j.stop();
    this.jobs.length = 0;
  }
}
