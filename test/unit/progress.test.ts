import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { barLine, bytes, logLine, ProgressReporter } from '../../src/cli/progress.js';
import {
  describeTransfer,
  mergeProgress,
  parseProgress2Line,
  transferProgress,
} from '../../src/transport/index.js';

// Captured from rsync 3.5.0 here (--info=progress2, stdout split on \r), a
// local sync with --bwlimit, one with -h, and a dry run with --itemize-changes.
const REAL = {
  start: '         32,768   0%    0.00kB/s    0:00:00  ',
  mid: '      4,000,000  49%    4.30MB/s    0:00:00 (xfr#20, to-chk=50/71)',
  fast: '        200,000   2%   26.58MB/s    0:00:00 (xfr#1, to-chk=69/71)',
  incremental: '              0   0%    0.00kB/s    0:00:00 (xfr#0, ir-chk=1000/1201)',
  last: '              2   0%    1.95kB/s    0:00:00 (xfr#1, to-chk=0/20201)  ',
  human: '          1.01M 100%  225.86kB/s    0:00:04 (xfr#20000, to-chk=0/20201)',
  done: '      8,000,081 100%  101.31MB/s    0:00:00 (xfr#70, to-chk=0/72)',
};

test('a progress2 line: bytes, percent, rate, time, files transferred and entries checked', () => {
  assert.deepEqual(parseProgress2Line(REAL.mid), {
    bytes: 4_000_000,
    percent: 49,
    rate: Math.round(4.3 * 1024 * 1024),
    time: '0:00:00',
    transferred: 20,
    toCheck: 50,
    total: 71,
    listComplete: true,
  });
  assert.deepEqual(parseProgress2Line(REAL.done), {
    bytes: 8_000_081,
    percent: 100,
    rate: Math.round(101.31 * 1024 * 1024),
    time: '0:00:00',
    transferred: 70,
    toCheck: 0,
    total: 72,
    listComplete: true,
  });
});

test('the first progress2 line has no file counts; ir-chk means the list is still growing', () => {
  assert.deepEqual(parseProgress2Line(REAL.start), { bytes: 32_768, percent: 0, rate: 0, time: '0:00:00' });
  const ir = parseProgress2Line(REAL.incremental);
  assert.equal(ir?.listComplete, false);
  assert.equal(ir?.total, 1201);
  assert.equal(ir?.toCheck, 1000);
  assert.equal(parseProgress2Line(REAL.last)?.rate, Math.round(1.95 * 1024));
});

test('with -h, sizes carry a suffix', () => {
  const p = parseProgress2Line(REAL.human);
  assert.equal(p?.bytes, 1_010_000);
  assert.equal(p?.time, '0:00:04');
  assert.equal(p?.transferred, 20000);
});

test('other rsync output is not progress: itemized changes, stats, messages', () => {
  for (const line of [
    '>f.st...... f3',
    '*deleting   d/s1',
    '.d..t...... d/',
    'Number of files: 72 (reg: 70, dir: 2)',
    'Total bytes sent: 8,006,165',
    'sent 8,006,165 bytes  received 1,357 bytes  16,015,044.00 bytes/sec',
    'total size is 8,000,081  speedup is 1.00',
    '>f+++++++++ 100% of files',
    '',
  ])
    assert.equal(parseProgress2Line(line), undefined, line);
});

function row(line: string | undefined, startedAgoMs = 12_000) {
  return {
    label: 'www/web1',
    started: 1_000_000 - startedAgoMs,
    last: line === undefined ? undefined : parseProgress2Line(line),
    done: false,
  };
}

test('the bar of a sync follows the bytes; an audit bar follows the entries checked', () => {
  const sync = barLine(row(REAL.mid), 'sync', 1_000_000);
  assert.match(
    sync,
    /^www\/web1 {2}\[#{10}-{10}\] {3}49% {2}21\/71 files checked {2}20 sent {2}3\.8 MiB {2}4\.3 MiB\/s$/,
  );
  const audit = barLine(row(REAL.incremental), 'audit', 1_000_000);
  assert.match(audit, /^www\/web1 {2}\[#{3}-{17}\] {3}16% {2}201\/1,201\+ files checked {2}12 s$/);
  assert.match(barLine(row(undefined), 'sync', 1_000_000), /\[-{20}\] {4}0% {2}starting$/);
});

test('the periodic log line says the same in words', () => {
  assert.equal(
    logLine(row(REAL.mid), 'sync', 1_000_000),
    'progress www/web1: 49%, 21/71 files checked, 20 sent, 3.8 MiB, 4.3 MiB/s, 12 s so far',
  );
  assert.equal(logLine(row(undefined), 'audit', 1_000_000), 'progress www/web1: starting (12 s so far)');
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(3 * 1024 ** 3), '3.0 GiB');
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('on a terminal the bars are redrawn in place and results are written above them', () => {
  const out = new Capture();
  let now = 0;
  const r = new ProgressReporter(out, { mode: 'sync', tty: true, columns: 120, now: () => now });
  r.start('a', 'src/a');
  r.start('b', 'src/b');
  now += 200;
  r.update('a', parseProgress2Line(REAL.mid) ?? assert.fail());
  // the second bar: two lines up, each line erased and rewritten
  assert.ok(
    out.text.includes('\x1b[2A\r\x1b[2Ksrc/a  [##########----------]   49%'),
    JSON.stringify(out.text),
  );
  r.finish('a');
  r.log('ok   src -> a\n');
  const tail = out.text.slice(out.text.lastIndexOf('\x1b[J'));
  assert.match(tail, /^\x1b\[Jok {3}src -> a\n\x1b\[2Ksrc\/b/);
  r.stop();
  assert.ok(out.text.endsWith('\x1b[1A\r\x1b[J'), JSON.stringify(out.text.slice(-20)));
});

test('without a terminal, one log line per running target every interval, and no escape codes', async () => {
  const out = new Capture();
  const r = new ProgressReporter(out, { mode: 'audit', tty: false, intervalMs: 20 });
  r.start('a', 'src/a');
  r.start('b', 'src/b');
  r.update('a', parseProgress2Line(REAL.incremental) ?? assert.fail());
  r.finish('b');
  const deadline = Date.now() + 5000;
  while (!out.text.includes('progress src/a: 16%, 201/1,201+ files checked') && Date.now() < deadline)
    await new Promise((res) => setTimeout(res, 10));
  r.stop();
  assert.match(out.text, /progress src\/a: 16%, 201\/1,201\+ files checked, \d+ s so far\n/);
  assert.ok(!out.text.includes('src/b'), 'a finished target gets no more lines');
  assert.ok(!out.text.includes('\x1b'));
});

test('a line without counts (inside a big file) keeps the counts of the last completed file', () => {
  const out = new Capture();
  const r = new ProgressReporter(out, { mode: 'sync', tty: true, columns: 200, now: () => 0 });
  r.start('a', 'src/a');
  r.update('a', parseProgress2Line(REAL.mid) ?? assert.fail());
  r.update('a', parseProgress2Line('      4,131,072  51%    4.30MB/s    0:00:01  ') ?? assert.fail());
  r.finish('a');
  assert.match(
    out.text,
    /51% {2}21\/71 files checked {2}20 sent {2}3\.9 MiB {2}4\.3 MiB\/s {2}0:00:01 left\n$/,
  );
  r.stop();
});

test("a sync that succeeded ends its bar at 100%, though rsync's last line said less; a failed one keeps its numbers", () => {
  const out = new Capture();
  const r = new ProgressReporter(out, { mode: 'sync', tty: true, columns: 200, now: () => 0 });
  r.start('a', 'src/a');
  r.start('b', 'src/b');
  // most of the data was already on the target: rsync's last line of a finished sync says 0%
  r.update('a', parseProgress2Line(REAL.last) ?? assert.fail());
  r.update('b', parseProgress2Line(REAL.mid) ?? assert.fail());
  r.finish('a', true);
  r.finish('b', false);
  const last = out.text.slice(out.text.lastIndexOf('src/a'));
  assert.match(last, /^src\/a {2}\[#{20}\] {2}100% {2}20,201\/20,201 files checked {2}1 sent {2}2 B/);
  assert.match(last, /\n\x1b\[2Ksrc\/b {2}\[#{10}-{10}\] {3}49% {2}21\/71 files checked/);
  r.stop();
  // a sync with nothing to send may print no progress line at all
  const row = { label: 'src/c', started: 0, done: true, ok: true };
  assert.match(barLine(row, 'sync', 0), /^src\/c {2}\[#{20}\] {2}100%$/);
});

test("the daemon's view of a full sync in progress: figures for status, words for its log", () => {
  const p = transferProgress(1_000_000 - 12_000, parseProgress2Line(REAL.mid), 1_000_000);
  assert.deepEqual(p, {
    kind: 'full',
    startedAt: 988_000,
    at: 1_000_000,
    bytes: 4_000_000,
    rate: Math.round(4.3 * 1024 * 1024),
    percent: 49,
    files: 20,
    checked: 21,
    total: 71,
    listComplete: true,
  });
  assert.equal(
    describeTransfer(p, 1_000_000),
    '49%, 21/71 files checked, 20 sent, 3.8 MiB, 4.3 MiB/s, 12 s so far',
  );
  // before rsync's first line
  assert.equal(
    describeTransfer(transferProgress(997_000, undefined, null), 1_000_000),
    'starting, 3 s so far',
  );
  // inside a big file the counts of the last completed file stay
  const big = mergeProgress(
    parseProgress2Line(REAL.mid),
    parseProgress2Line('      4,131,072  51%    4.30MB/s    0:00:01  ') ?? assert.fail(),
  );
  assert.equal(transferProgress(988_000, big, 1_000_000).checked, 21);
});
