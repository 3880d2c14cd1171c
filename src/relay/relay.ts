import type { RelayConfig } from '../config/index.js';
import type { RelayStatus } from '../status/index.js';
import { describeFetchError, httpGet } from '../util/http-get.js';
import type { Logger } from '../util/log.js';
import { readTokenFile } from '../util/token-file.js';
import { answeredView, pickRelaySource, type RelayAnswer, unreachableView } from './view.js';

/** A read of the relay's status that takes longer than this failed. */
const READ_TIMEOUT_MS = 10_000;

export interface RelayWatchOptions {
  /** the upstream source and target that feed the relay (for logs and picking the relay's source) */
  source: string;
  target: string;
  config: RelayConfig;
  log: Logger;
  /** the view changed (read or failed) */
  onChange?: (view: RelayStatus) => void;
}

/**
 * Reads a relay's /api/status every poll_s and keeps the view the upstream
 * shows of it (view.ts). One read at a time; a read that fails, times out or
 * answers something else marks the relay unreachable, its leaves unknown.
 * Logs when the relay becomes unreadable and when it answers again, not at
 * every poll.
 */
export class RelayWatch {
  private view: RelayStatus;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private reading: Promise<void> | null = null;

  constructor(private readonly o: RelayWatchOptions) {
    this.view = {
      api: o.config.api,
      state: 'starting',
      readAt: null,
      since: null,
      error: null,
      source: null,
      leaves: [],
    };
  }

  status(): RelayStatus {
    return this.view;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Reads now (and then every poll_s); resolves when the read ended. */
  readNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.poll();
    return this.reading ?? Promise.resolve();
  }

  private poll(): void {
    if (this.stopped || this.reading) return;
    this.reading = this.read().finally(() => {
      this.reading = null;
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.poll();
      }, this.o.config.pollS * 1000);
      this.timer.unref();
    });
  }

  private async read(): Promise<void> {
    const { api, tokenFile, source } = this.o.config;
    const was = this.view.state;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (tokenFile)
        headers.authorization = `Bearer ${readTokenFile(tokenFile, { key: 'relay.token_file', ownerOnly: true })}`;
      const res = await httpGet(`${api}/api/status`, { headers, timeoutMs: READ_TIMEOUT_MS });
      if (!res.ok) {
        const hint =
          res.status === 401 ? ': check relay.token_file against the api.token_file of the relay' : '';
        throw new Error(`HTTP ${res.status} from ${api}/api/status${hint}`);
      }
      const answer = (await res.json()) as RelayAnswer;
      if (!Array.isArray(answer?.sources)) throw new Error(`${api}/api/status is not a syncward status`);
      const picked = pickRelaySource(answer, { configured: source, upstreamSource: this.o.source });
      this.view = answeredView(api, picked.name, picked.targets, Date.now());
      if (was === 'unreachable')
        this.o.log.info(
          { source: this.o.source, target: this.o.target, api },
          `target ${this.o.source}/${this.o.target}: the relay's API answers again (${api}); its ${picked.targets.length} targets are shown`,
        );
    } catch (e) {
      const err =
        e instanceof Error && e.name === 'TimeoutError'
          ? `no answer within ${READ_TIMEOUT_MS / 1000} s`
          : describeFetchError(e);
      this.view = unreachableView(this.view.state === 'starting' ? null : this.view, api, err, Date.now());
      if (was !== 'unreachable')
        this.o.log.warn(
          { source: this.o.source, target: this.o.target, api, err },
          `target ${this.o.source}/${this.o.target}: cannot read the relay's status at ${api} (${err}); its targets show as unknown until it answers`,
        );
    }
    this.o.onChange?.(this.view);
  }
}
