import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';

/**
 * A real SMTP server on 127.0.0.1 (RFC 5321, the part a client uses: EHLO,
 * STARTTLS, AUTH PLAIN/LOGIN, MAIL FROM, RCPT TO, DATA with dot-stuffing,
 * RSET, NOOP, QUIT) that records each accepted message and decodes it as a
 * mail reader would: unfolded headers, RFC 2047 words, a base64 or 8bit
 * UTF-8 body.
 */

export interface ReceivedMail {
  from: string;
  to: string[];
  /** header names lower-cased, values unfolded, as sent */
  headers: Record<string, string>;
  /** the Subject decoded from RFC 2047 */
  subject: string;
  /** the body decoded to text */
  text: string;
  tls: boolean;
  user: string | null;
}

export interface SmtpdOptions {
  /** offer STARTTLS with this certificate */
  tls?: { key: string; cert: string };
  /** with tls: TLS from the first byte (SMTPS) instead of STARTTLS */
  implicit?: boolean;
  /** require AUTH with these credentials before MAIL */
  auth?: { user: string; pass: string };
  /** the AUTH mechanisms offered (default "PLAIN LOGIN") */
  mechanisms?: string;
  /** refuse RCPT TO for these addresses (550) */
  refuse?: string[];
}

/** Decodes RFC 2047 encoded words (B and Q) in a header value. */
function decodeWords(v: string): string {
  return v
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset: string, enc: string, data: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : Buffer.from(
            data
              .replace(/_/g, ' ')
              .replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          ).toString('utf8'),
    );
}

function parseMessage(raw: string): { headers: Record<string, string>; text: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, at).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = raw.slice(at + 4);
  const cte = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const text =
    cte === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : Buffer.from(body, 'latin1').toString('utf8');
  return { headers, text };
}

export async function startSmtpd(o: SmtpdOptions = {}) {
  const mails: ReceivedMail[] = [];
  const sessions = new Set<Socket>();
  const session = (plain: Socket) => {
    sessions.add(plain);
    plain.on('close', () => sessions.delete(plain));
    let socket: Socket = plain;
    let tls = plain instanceof TLSSocket;
    let user: string | null = null;
    let from: string | null = null;
    let to: string[] = [];
    let data: Buffer[] | null = null;
    let pending = Buffer.alloc(0);
    let authLogin: 'user' | 'pass' | null = null;
    let loginUser = '';
    const say = (line: string) => socket.write(`${line}\r\n`);
    const checkAuth = (u: string, p: string) => {
      if (o.auth && u === o.auth.user && p === o.auth.pass) {
        user = u;
        say('235 2.7.0 Authentication successful');
      } else say('535 5.7.8 Authentication credentials invalid');
    };
    const onLine = (lineBytes: Buffer) => {
      if (data !== null) {
        const line = lineBytes.toString('latin1');
        if (line === '.') {
          const { headers, text } = parseMessage(Buffer.concat(data).toString('latin1'));
          mails.push({
            from: from ?? '',
            to,
            headers: Object.fromEntries(
              Object.entries(headers).map(([k, v]) => [k, Buffer.from(v, 'latin1').toString('utf8')]),
            ),
            subject: decodeWords(headers.subject ?? ''),
            text,
            tls,
            user,
          });
          data = null;
          from = null;
          to = [];
          say('250 2.0.0 Ok: queued');
        } else {
          // dot-stuffing: a leading dot was doubled by the client
          const unstuffed = line.startsWith('.') ? lineBytes.subarray(1) : lineBytes;
          data.push(unstuffed, Buffer.from('\r\n'));
        }
        return;
      }
      const line = lineBytes.toString('utf8');
      if (authLogin === 'user') {
        loginUser = Buffer.from(line, 'base64').toString('utf8');
        authLogin = 'pass';
        say(`334 ${Buffer.from('Password:').toString('base64')}`);
        return;
      }
      if (authLogin === 'pass') {
        authLogin = null;
        checkAuth(loginUser, Buffer.from(line, 'base64').toString('utf8'));
        return;
      }
      const [verb = '', ...rest] = line.split(' ');
      const arg = rest.join(' ');
      switch (verb.toUpperCase()) {
        case 'EHLO': {
          const ext = ['8BITMIME'];
          if (o.tls && !tls) ext.push('STARTTLS');
          if (o.auth) ext.push(`AUTH ${o.mechanisms ?? 'PLAIN LOGIN'}`);
          say(`250-127.0.0.1 hello ${arg}`);
          ext.forEach((e, i) => say(`250${i === ext.length - 1 ? ' ' : '-'}${e}`));
          return;
        }
        case 'HELO':
          return say('250 127.0.0.1');
        case 'STARTTLS': {
          if (!o.tls || tls) return say('502 5.5.1 not offered');
          say('220 2.0.0 Ready to start TLS');
          plain.removeAllListeners('data');
          const secure = new TLSSocket(plain, { isServer: true, key: o.tls.key, cert: o.tls.cert });
          secure.on('data', onData);
          secure.on('error', () => plain.destroy());
          socket = secure;
          tls = true;
          // RFC 3207: forget what was said before TLS
          from = null;
          to = [];
          return;
        }
        case 'AUTH': {
          const [mech = '', initial] = arg.split(' ');
          if (mech.toUpperCase() === 'PLAIN' && initial) {
            const [, u = '', p = ''] = Buffer.from(initial, 'base64').toString('utf8').split('\0');
            return checkAuth(u, p);
          }
          if (mech.toUpperCase() === 'LOGIN') {
            authLogin = 'user';
            return say(`334 ${Buffer.from('Username:').toString('base64')}`);
          }
          return say('504 5.5.4 mechanism not supported');
        }
        case 'MAIL': {
          if (o.auth && user === null) return say('530 5.7.0 Authentication required');
          const m = /^FROM:<([^>]*)>/i.exec(arg);
          if (!m) return say('501 5.5.4 Syntax: MAIL FROM:<address>');
          from = m[1] as string;
          return say('250 2.1.0 Ok');
        }
        case 'RCPT': {
          const m = /^TO:<([^>]+)>/i.exec(arg);
          if (from === null) return say('503 5.5.1 need MAIL first');
          if (!m) return say('501 5.5.4 Syntax: RCPT TO:<address>');
          if (o.refuse?.includes(m[1] as string))
            return say(`550 5.1.1 <${m[1]}>: Recipient address rejected`);
          to.push(m[1] as string);
          return say('250 2.1.5 Ok');
        }
        case 'DATA':
          if (to.length === 0) return say('503 5.5.1 need RCPT first');
          data = [];
          return say('354 End data with <CR><LF>.<CR><LF>');
        case 'RSET':
          from = null;
          to = [];
          return say('250 2.0.0 Ok');
        case 'NOOP':
          return say('250 2.0.0 Ok');
        case 'QUIT':
          say('221 2.0.0 Bye');
          socket.end();
          return;
        default:
          return say('502 5.5.2 command not recognized');
      }
    };
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let i = pending.indexOf('\r\n'); i >= 0; i = pending.indexOf('\r\n')) {
        const line = pending.subarray(0, i);
        pending = pending.subarray(i + 2);
        onLine(line);
      }
    };
    plain.on('data', onData);
    plain.on('error', () => {});
    say('220 127.0.0.1 ESMTP test receiver');
  };
  const server: Server =
    o.tls && o.implicit
      ? createTlsServer({ key: o.tls.key, cert: o.tls.cert }, session)
      : createServer(session);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    mails,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

export type Smtpd = Awaited<ReturnType<typeof startSmtpd>>;

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl; `cert` is also the CA to trust. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-cert-'));
  try {
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
