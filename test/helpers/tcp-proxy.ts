import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A TCP proxy on 127.0.0.1 in front of a server, that can stop forwarding:
 * a peer that stops answering (a host frozen, a network silently dropping
 * packets). While frozen it reads nothing from either side, so TCP's own
 * flow control stops the sender once the kernel buffers are full; new
 * connections are accepted and get nothing back.
 */
export interface TcpProxy {
  port: number;
  /** bytes forwarded from clients to the server so far */
  readonly upstreamBytes: number;
  /** stop forwarding, on every connection and on new ones */
  freeze(): void;
  /** freeze once this many client-to-server bytes have been forwarded */
  freezeAfter(bytes: number): void;
  /** forward again; what waited in the buffers goes on */
  thaw(): void;
  readonly frozen: boolean;
  close(): Promise<void>;
}

export async function startTcpProxy(serverPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let frozen = false;
  let freezeAt = Number.POSITIVE_INFINITY;
  let upstreamBytes = 0;

  const freeze = () => {
    frozen = true;
    for (const s of sockets) s.pause();
  };
  // one direction, honouring the receiver's backpressure and the freeze
  const forward = (from: Socket, to: Socket, countUp: boolean) => {
    from.on('data', (d: Buffer) => {
      if (countUp) {
        upstreamBytes += d.length;
        if (upstreamBytes >= freezeAt) freeze();
      }
      if (!to.write(d)) {
        from.pause();
        to.once('drain', () => {
          if (!frozen) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect({ port: serverPort, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      if (frozen) s.pause();
    }
    forward(client, upstream, true);
    forward(upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    get upstreamBytes() {
      return upstreamBytes;
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
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
