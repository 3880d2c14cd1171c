import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { waitFor } from './tree.js';

/** The URL a daemon listening on port 0 wrote to state_dir/api.json. */
export function apiUrlOf(stateDir: string): string {
  return (JSON.parse(readFileSync(join(stateDir, 'api.json'), 'utf8')) as { url: string }).url;
}

export interface SseEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

export interface SseClient {
  events: SseEvent[];
  /** comment lines (": heartbeat") seen */
  comments: string[];
  /** the first event (from index `from`) that matches, waiting at most `timeoutMs` */
  next(pred: (e: SseEvent) => boolean, from: number, timeoutMs: number, what: string): Promise<number>;
  close(): void;
}

/** A real Server-Sent Events client over node:http, parsing frames as they arrive. */
export function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET ${url} answered ${res.statusCode}`));
        res.resume();
        return;
      }
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: Partial<SseEvent> = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) e.id = Number(line.slice(4));
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6)) as Record<string, unknown>;
          }
          if (e.event !== undefined) events.push(e as SseEvent);
        }
      });
      resolve({
        events,
        comments,
        async next(pred, from, timeoutMs, what) {
          let found = -1;
          await waitFor(
            () => {
              found = events.findIndex((e, i) => i >= from && pred(e));
              return found >= 0;
            },
            timeoutMs,
            what,
          ).catch((e: Error) => {
            throw new Error(
              `${e.message}; events so far:\n${events.map((x) => `${x.id} ${x.event} ${JSON.stringify(x.data).slice(0, 200)}`).join('\n')}`,
            );
          });
          return found;
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP request with the raw path as given (no URL normalisation), for status and body checks. */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  o: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
