import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IN, parseEvents } from '../../src/native/index.js';

/** Encodes events the way the kernel lays out `struct inotify_event`, names NUL-padded to 16 bytes. */
function encode(events: Array<{ wd: number; mask: number; cookie?: number; name?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of events) {
    const name = e.name ?? Buffer.alloc(0);
    const len = name.length === 0 ? 0 : Math.ceil((name.length + 1) / 16) * 16;
    const b = Buffer.alloc(16 + len);
    b.writeInt32LE(e.wd, 0);
    b.writeUInt32LE(e.mask, 4);
    b.writeUInt32LE(e.cookie ?? 0, 8);
    b.writeUInt32LE(len, 12);
    name.copy(b, 16);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

test('parses consecutive events with padded names', () => {
  const buf = encode([
    { wd: 1, mask: IN.IN_CREATE, name: Buffer.from('a.txt') },
    { wd: 2, mask: IN.IN_MOVED_FROM | IN.IN_ISDIR, cookie: 77, name: Buffer.from('exactly-16-bytes') },
    { wd: 2, mask: IN.IN_MOVED_TO | IN.IN_ISDIR, cookie: 77, name: Buffer.from('b') },
  ]);
  assert.deepEqual(parseEvents(buf), [
    { wd: 1, mask: IN.IN_CREATE, cookie: 0, name: 'a.txt' },
    { wd: 2, mask: IN.IN_MOVED_FROM | IN.IN_ISDIR, cookie: 77, name: 'exactly-16-bytes' },
    { wd: 2, mask: IN.IN_MOVED_TO | IN.IN_ISDIR, cookie: 77, name: 'b' },
  ]);
});

test('an event on the watched directory itself has an empty name', () => {
  assert.deepEqual(parseEvents(encode([{ wd: 5, mask: IN.IN_DELETE_SELF }])), [
    { wd: 5, mask: IN.IN_DELETE_SELF, cookie: 0, name: '' },
  ]);
});

test('queue overflow arrives with wd -1', () => {
  const [ev] = parseEvents(encode([{ wd: -1, mask: IN.IN_Q_OVERFLOW }]));
  assert.equal(ev?.wd, -1);
  assert.ok((ev?.mask ?? 0) & IN.IN_Q_OVERFLOW);
});

test('names that are not UTF-8 keep their exact bytes', () => {
  const raw = Buffer.from([0x66, 0xff, 0xfe, 0x0a, 0x24]);
  const [ev] = parseEvents(encode([{ wd: 1, mask: IN.IN_CLOSE_WRITE, name: raw }]));
  assert.deepEqual(Buffer.from(ev?.name ?? '', 'latin1'), raw);
});
