import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

/**
 * A small SMTP client (RFC 5321) for alert mail: EHLO, STARTTLS, AUTH
 * PLAIN or LOGIN, MAIL FROM, RCPT TO, DATA, QUIT, on node:net and
 * node:tls. The message itself is built by the pure formatMail.
 */

export interface SmtpServer {
  host: string;
  port: number;
  /** implicit: TLS from the first byte (port 465); starttls: upgrade after EHLO or fail; auto: upgrade when offered; off: never */
  tls: 'implicit' | 'starttls' | 'auto' | 'off';
  username?: string;
  password?: string;
  /** PEM of the CA(s) to trust instead of the system's (a private CA) */
  ca?: string;
  timeoutMs: number;
}

export interface Mail {
  from: string;
  to: readonly string[];
  subject: string;
  text: string;
}

/** RFC 2047: a header value with non-ASCII characters as UTF-8 base64 encoded words, folded. */
export function encodeHeader(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  // each word holds at most 45 bytes (60 base64 characters): with its =?UTF-8?B?...?= it stays under 76
  const words: string[] = [];
  let chunk = '';
  for (const ch of value) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** An RFC 5322 date in UTC ("Tue, 25 Nov 2025 10:00:00 +0000"). */
function mailDate(at: Date): string {
  return at.toUTCString().replace(/GMT$/, '+0000');
}

/**
 * The message as sent after DATA: headers, a UTF-8 text body in base64
 * (no 8BITMIME needed), CRLF line ends, not yet dot-stuffed.
 */
export function formatMail(mail: Mail, o: { at: Date; messageId: string }): string {
  const body = Buffer.from(mail.text.replace(/\r?\n/g, '\r\n'), 'utf8')
    .toString('base64')
    .replace(/.{1,76}/g, '$&\r\n');
  return [
    `From: ${mail.from}`,
    `To: ${mail.to.join(', ')}`,
    `Subject: ${encodeHeader(mail.subject)}`,
    `Date: ${mailDate(o.at)}`,
    `Message-ID: ${o.messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    body,
  ].join('\r\n');
}

/** DATA's transparency (RFC 5321 4.5.2): a line starting with "." gets another; the end is CRLF.CRLF. */
export function dotStuff(message: string): string {
  const text = message.endsWith('\r\n') ? message : `${message}\r\n`;
  return `${text.replace(/^\./gm, '..')}.\r\n`;
}

interface Reply {
  code: number;
  lines: string[];
}

/** Reads replies off a socket: "250-..." lines continue, "250 ..." ends one. */
class ReplyReader {
  private buffer = '';
  private lines: string[] = [];
  private readonly ready: Reply[] = [];
  private waiter: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  feed(data: string): void {
    this.buffer += data;
    for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, i).replace(/\r$/, '');
      this.buffer = this.buffer.slice(i + 1);
      this.lines.push(line);
      if (line[3] !== '-') {
        this.ready.push({ code: Number(line.slice(0, 3)), lines: this.lines.map((l) => l.slice(4)) });
        this.lines = [];
      }
    }
    this.wakeUp();
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.wakeUp();
  }

  next(): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.wakeUp();
    });
  }

  private wakeUp(): void {
    const w = this.waiter;
    if (!w) return;
    const r = this.ready.shift();
    if (r) {
      this.waiter = null;
      w.resolve(r);
    } else if (this.failure) {
      this.waiter = null;
      w.reject(this.failure);
    }
  }
}

const isLoopbackHost = (h: string) => h === 'localhost' || h === '::1' || /^127\./.test(h);

/** Sends one mail. Resolves when the server accepted it (250 after DATA); throws with the server's own words otherwise. */
export async function sendMail(server: SmtpServer, mail: Mail): Promise<void> {
  const reader = new ReplyReader();
  const listen = (s: Socket | TLSSocket) => {
    s.on('data', (d: Buffer) => reader.feed(d.toString('utf8')));
    s.on('error', (e) => reader.fail(new Error(`${server.host}:${server.port}: ${e.message}`)));
    s.on('close', () => reader.fail(new Error(`${server.host}:${server.port} closed the connection`)));
  };
  let socket: Socket | TLSSocket =
    server.tls === 'implicit'
      ? tlsConnect({ host: server.host, port: server.port, servername: server.host, ca: server.ca })
      : netConnect({ host: server.host, port: server.port });
  listen(socket);
  let secure = server.tls === 'implicit';
  const timer = setTimeout(
    () => socket.destroy(new Error(`no answer within ${server.timeoutMs / 1000} s`)),
    server.timeoutMs,
  );
  const expect = async (what: string, ok: (code: number) => boolean): Promise<Reply> => {
    const r = await reader.next();
    if (!ok(r.code)) throw new Error(`SMTP ${what}: ${r.code} ${r.lines.join(' ')}`);
    return r;
  };
  const command = (line: string, what: string, ok: (code: number) => boolean = (c) => c === 250) => {
    socket.write(`${line}\r\n`);
    return expect(what, ok);
  };
  const helo = hostname();
  try {
    await expect('greeting', (c) => c === 220);
    let ehlo = await command(`EHLO ${helo}`, 'EHLO');
    const offers = (word: string) => ehlo.lines.some((l) => l.toUpperCase().startsWith(word));
    if (!secure && server.tls !== 'off' && (server.tls === 'starttls' || offers('STARTTLS'))) {
      if (!offers('STARTTLS'))
        throw new Error(
          `${server.host}:${server.port} does not offer STARTTLS; set alerts.email.tls to "off" only if the mail may travel in clear`,
        );
      await command('STARTTLS', 'STARTTLS', (c) => c === 220);
      socket.removeAllListeners('data').removeAllListeners('close').removeAllListeners('error');
      socket = tlsConnect({ socket, servername: server.host, ca: server.ca });
      listen(socket);
      await new Promise<void>((resolve, reject) => {
        (socket as TLSSocket).once('secureConnect', resolve);
        socket.once('error', reject);
      });
      secure = true;
      ehlo = await command(`EHLO ${helo}`, 'EHLO after STARTTLS');
    }
    if (server.username !== undefined) {
      if (!secure && !isLoopbackHost(server.host))
        throw new Error(
          `refusing to send the SMTP password to ${server.host} without TLS: use tls "starttls" or "implicit"`,
        );
      await authenticate(ehlo, server.username, server.password ?? '', command);
    }
    await command(`MAIL FROM:<${mail.from}>`, 'MAIL FROM');
    for (const to of mail.to)
      await command(`RCPT TO:<${to}>`, `RCPT TO ${to}`, (c) => c === 250 || c === 251);
    await command('DATA', 'DATA', (c) => c === 354);
    const message = formatMail(mail, { at: new Date(), messageId: `<${randomUUID()}@${helo}>` });
    await command(dotStuff(message).replace(/\r\n$/, ''), 'message');
    socket.write('QUIT\r\n');
    await reader.next().catch(() => undefined);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

async function authenticate(
  ehlo: Reply,
  username: string,
  password: string,
  command: (line: string, what: string, ok?: (c: number) => boolean) => Promise<Reply>,
): Promise<void> {
  const auth =
    ehlo.lines
      .find((l) => /^AUTH[ =]/i.test(l))
      ?.toUpperCase()
      .split(/[ =]/) ?? [];
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const accepted = (c: number) => c === 235;
  if (auth.includes('PLAIN')) {
    await command(`AUTH PLAIN ${b64(`\0${username}\0${password}`)}`, 'AUTH PLAIN', accepted);
  } else if (auth.includes('LOGIN')) {
    await command('AUTH LOGIN', 'AUTH LOGIN', (c) => c === 334);
    await command(b64(username), 'AUTH LOGIN user', (c) => c === 334);
    await command(b64(password), 'AUTH LOGIN password', accepted);
  } else {
    throw new Error(
      `the server offers no AUTH PLAIN or LOGIN (it offers: ${auth.slice(1).join(' ') || 'none'})`,
    );
  }
}

/** Reads a CA file for SmtpServer.ca, with an error that names the setting. */
export function readCaFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`alerts.email.ca_file ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
}
