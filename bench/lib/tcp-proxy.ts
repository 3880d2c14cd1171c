import { createServer, type Server, Socket } from 'node:net';
import { freePort } from '../../test/helpers/ports.js';
import { DelayLine } from './delay-line.js';

/**
 * A TCP proxy on 127.0.0.1 in front of a server: a link the bench and the
 * tests can shape. It can add a fixed one-way delay to every byte in each
 * direction (netem is not available on these kernels: `tc qdisc add ...
 * netem` fails), it counts the bytes each way, and it can stop forwarding: a
 * peer that stops answering (a host frozen, a network silently dropping
 * packets). While frozen it reads nothing from either side, so TCP's own
 * flow control stops the sender once the kernel buffers are full; new
 * connections are accepted and get nothing back; bytes already in the delay
 * line are still delivered, as packets on the wire would be.
 *
 * The delay is on bytes, not packets: each side's TCP talks to the proxy on
 * loopback, so its ACKs come back at once. What waits for an ACK across the
 * link (Nagle's algorithm at a stock rsync daemon, slow start) is not slowed
 * by the delay as it would be on a real one; only the handshake is modelled
 * (connectDelayMs).
 */
export interface TcpProxy {
  port: number;
  /** bytes forwarded from clients to the server so far */
  readonly upstreamBytes: number;
  /** bytes forwarded from the server to clients so far */
  readonly downstreamBytes: number;
  /** stop forwarding, on every connection and on new ones */
  freeze(): void;
  /** freeze once this many client-to-server bytes have been forwarded */
  freezeAfter(bytes: number): void;
  /** forward again; what waited in the buffers goes on */
  thaw(): void;
  readonly frozen: boolean;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** each byte reaches the other side this many ms after the proxy read it, in both directions */
  oneWayDelayMs?: number;
  /**
   * ms before the proxy connects to the server for a new client: a real
   * link's handshake (SYN, SYN-ACK, ACK) lets the server accept 1.5 round
   * trips after the client's connect(), which loopback does at once
   */
  connectDelayMs?: number;
}

/** END: the sender's FIN, which travels behind its bytes */
const END = null;

export async function startTcpProxy(serverPort: number, o: TcpProxyOptions = {}): Promise<TcpProxy> {
  const port = await freePort();
  const delayMs = o.oneWayDelayMs ?? 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let frozen = false;
  let freezeAt = Number.POSITIVE_INFINITY;
  let upstreamBytes = 0;
  let downstreamBytes = 0;

  const freeze = () => {
    frozen = true;
    for (const s of sockets) s.pause();
  };
  /**
   * One direction: bytes read from `from` go through a delay line into `to`
   * once `to` is connected, honouring the receiver's backpressure and the
   * freeze. Returns the pump, to call when `to` connects.
   */
  const forward = (from: Socket, to: Socket, up: boolean, connected: () => boolean) => {
    const line = new DelayLine<Buffer | typeof END>(delayMs);
    let timer: NodeJS.Timeout | null = null;
    const pump = () => {
      if (timer || !connected() || to.destroyed) return;
      for (const item of line.take(performance.now())) {
        if (item === END) {
          to.end();
        } else if (!to.write(item)) {
          from.pause();
          to.once('drain', () => {
            if (!frozen) from.resume();
          });
        }
      }
      // a timer may fire a little early: take() above releases nothing before its time
      const wait = line.nextIn(performance.now());
      if (wait == null) return;
      timer = setTimeout(
        () => {
          timers.delete(timer as NodeJS.Timeout);
          timer = null;
          pump();
        },
        Math.max(1, Math.ceil(wait)),
      );
      timers.add(timer);
    };
    from.on('data', (d: Buffer) => {
      if (up) {
        upstreamBytes += d.length;
        if (upstreamBytes >= freezeAt) freeze();
      } else downstreamBytes += d.length;
      line.push(d, performance.now());
      pump();
    });
    from.on('end', () => {
      line.push(END, performance.now());
      pump();
    });
    from.on('error', () => to.destroy());
    from.on('close', (hadError: boolean) => {
      if (hadError) to.destroy();
    });
    return pump;
  };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connectLater(serverPort, o.connectDelayMs ?? 0, timers);
    let upConnected = false;
    for (const s of [client, upstream]) {
      // a wire forwards at once: no Nagle of the proxy's own on top of the endpoints'
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      if (frozen) s.pause();
    }
    const pumpUp = forward(client, upstream, true, () => upConnected);
    forward(upstream, client, false, () => true);
    upstream.once('connect', () => {
      upConnected = true;
      pumpUp();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    get upstreamBytes() {
      return upstreamBytes;
    },
    get downstreamBytes() {
      return downstreamBytes;
    },
    get frozen() {
      return frozen;
    },
    freeze,
    freezeAfter(bytes) {
      freezeAt = upstreamBytes + bytes;
    },
    thaw() {
      frozen = false;
      freezeAt = Number.POSITIVE_INFINITY;
      for (const s of sockets) s.resume();
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A socket to the server that starts connecting after `delayMs`; bytes for it wait in the delay line meanwhile. */
function connectLater(serverPort: number, delayMs: number, timers: Set<NodeJS.Timeout>): Socket {
  const s = new Socket({ allowHalfOpen: true });
  const go = () => {
    if (!s.destroyed) s.connect({ port: serverPort, host: '127.0.0.1' });
  };
  if (delayMs <= 0) go();
  else {
    const t = setTimeout(() => {
      timers.delete(t);
      go();
    }, delayMs);
    timers.add(t);
  }
  return s;
}

/**
 * The proxy options for a link of `rttMs` round trip: half of it each way,
 * and the server accepting 1.5 round trips after the client's connect(), as
 * after a real TCP handshake.
 */
export function linkWithRtt(rttMs: number): TcpProxyOptions {
  if (!(rttMs >= 0)) throw new Error(`a round trip is 0 ms or more, not ${rttMs}`);
  return { oneWayDelayMs: rttMs / 2, connectDelayMs: rttMs * 1.5 };
}
