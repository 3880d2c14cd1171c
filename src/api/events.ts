import type { ServerResponse } from 'node:http';

/** Names of the events on /api/events. */
export const EVENT_NAMES = ['batch', 'transfer', 'state', 'alert', 'incident', 'audit', 'canary'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export interface StreamOptions {
  /** a comment line this often keeps proxies and idle clients from closing the stream */
  heartbeatMs?: number;
  /** a client whose unsent output grows past this many bytes is dropped */
  maxBufferedBytes?: number;
  /** events kept for clients that reconnect with Last-Event-ID */
  replay?: number;
  /** clients at most; attach() refuses more (each holds a connection, so a file descriptor) */
  maxClients?: number;
}

interface Sent {
  id: number;
  frame: string;
}

/** One Server-Sent Events frame. JSON has no raw newlines, so the data is one line. Pure. */
export function sseFrame(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The /api/events fan-out. Writing never waits for a client: a client that
 * does not read (its socket buffer keeps growing) is dropped, so a slow
 * consumer can never hold up the daemon or the other clients.
 */
export class EventStream {
  private clients = new Set<ServerResponse>();
  private recent: Sent[] = [];
  private nextId = 1;
  private heartbeat: NodeJS.Timeout;
  private readonly maxBuffered: number;
  private readonly replay: number;
  private readonly maxClients: number;
  /** clients dropped for not reading */
  dropped = 0;

  constructor(o: StreamOptions = {}) {
    this.maxBuffered = o.maxBufferedBytes ?? 1024 * 1024;
    this.replay = o.replay ?? 256;
    this.maxClients = o.maxClients ?? Number.POSITIVE_INFINITY;
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), o.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Takes over a response as an event stream; events after `lastEventId` are
   * replayed first. False (and the response untouched) when maxClients are
   * attached already.
   */
  attach(res: ServerResponse, lastEventId: number | null): boolean {
    if (this.clients.size >= this.maxClients) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n: connected\n\n');
    if (lastEventId !== null) for (const s of this.recent) if (s.id > lastEventId) res.write(s.frame);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  publish(event: EventName, data: unknown): void {
    const id = this.nextId++;
    const frame = sseFrame(id, event, data);
    this.recent.push({ id, frame });
    if (this.recent.length > this.replay) this.recent.shift();
    this.write(frame);
  }

  private write(chunk: string): void {
    for (const res of this.clients) {
      if (res.writableLength > this.maxBuffered) {
        this.dropped++;
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
