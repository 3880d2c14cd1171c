import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { ApiStatus } from '../../src/api/index.js';
import { runAudit } from '../../src/cli/audit.js';
import { parseConfig } from '../../src/config/index.js';
import type { TransferProgress } from '../../src/transport/index.js';
import { apiUrlOf } from '../helpers/api.js';
import { bin, isWatching, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { compareTrees, makeTempDir } from '../helpers/tree.js';

function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
    });
  });
}

/** `script` runs a command on a pseudo-terminal (util-linux; Debian's bsdutils is essential) */
function onTerminal(args: string[]): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, bin, ...args].map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve) => {
    // -e: script exits with the command's code; the typescript goes to /dev/null, the terminal to our pipe
    execFile('script', ['-qec', cmd, '/dev/null'], { timeout: 120_000 }, (e, out) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out });
    });
  });
}

const hasScript = spawnSync('script', ['--version']).status === 0;

function yaml(o: {
  stateDir: string;
  src: string;
  url: string;
  passwordFile?: string;
  rsyncArgs?: string[];
  api?: string;
}) {
  return [
    `state_dir: ${JSON.stringify(o.stateDir)}`,
    `api: {listen: ${JSON.stringify(o.api ?? 'off')}}`,
    'sources:',
    '  - name: src',
    `    path: ${JSON.stringify(o.src)}`,
    '    targets:',
    '      - name: t1',
    `        url: ${JSON.stringify(o.url)}`,
    ...(o.passwordFile ? [`        password_file: ${JSON.stringify(o.passwordFile)}`] : []),
    ...(o.rsyncArgs ? [`        rsync_args: ${JSON.stringify(o.rsyncArgs)}`] : []),
    '',
  ].join('\n');
}

/** `files` random 256 KiB files in `src`, and a config that sends them to module m at --bwlimit=1000 (KiB/s). */
function slowSync(stateDir: string, src: string, rsyncd: RsyncDaemon, files: number, api?: string): string {
  for (let i = 0; i < files; i++) writeFileSync(join(src, `f${i}.bin`), randomBytes(256 * 1024));
  const config = join(stateDir, 'syncward.yaml');
  const url = rsyncd.url('m');
  writeFileSync(
    config,
    yaml({ stateDir, src, url, passwordFile: rsyncd.passwordFile, rsyncArgs: ['--bwlimit=1000'], api }),
  );
  return config;
}

test('sync without a terminal logs a progress line every 5 s, from rsync, until the sync completes', async () => {
  const src = await makeTempDir('syncward-progress-src-');
  const state = tempStateDir();
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  try {
    // 8 MiB at --bwlimit=1000 (KiB/s): about 8 s on the wire
    const config = slowSync(state.dir, src, rsyncd, 32);
    const r = await syncward(['sync', '-c', config]);
    assert.equal(r.code, 0, r.err);
    const lines = r.err.split('\n').filter((l) => l.startsWith('progress src/t1: '));
    assert.ok(lines.length >= 1, `no progress line in:\n${r.err}`);
    for (const l of lines) assert.match(l, /^progress src\/t1: \d+%, .*[\d.]+ (B|KiB|MiB), .*\d+ s so far$/);
    // the counts come with each completed file, and stay on the lines in between
    assert.ok(
      lines.some((l) => /, \d+\/\d+\+? files checked, \d+ sent, /.test(l)),
      lines.join('\n'),
    );
    assert.match(r.err, /^ok {3}src -> t1: 32 file\(s\)/m);
    assert.ok(!r.err.includes('\x1b'), 'no terminal codes without a terminal');
    assert.deepEqual(await compareTrees(src, rsyncd.modulePath('m')), []);

    // --json: the summary and nothing else
    const j = await syncward(['sync', '-c', config, '--json']);
    assert.equal(j.code, 0, j.err);
    assert.equal(j.err, '');
    assert.equal((JSON.parse(j.out) as { results: unknown[] }).results.length, 1);
  } finally {
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});

test('sync and audit on a terminal draw a progress bar in place', {
  skip: !hasScript && 'no script(1)',
}, async () => {
  const src = await makeTempDir('syncward-progress-tty-src-');
  const dst = await makeTempDir('syncward-progress-tty-dst-');
  const state = tempStateDir();
  try {
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(src, `d${d}`));
      for (let f = 0; f < 50; f++) writeFileSync(join(src, `d${d}`, `f${f}`), `${d}/${f}\n`);
    }
    const config = join(state.dir, 'syncward.yaml');
    writeFileSync(config, yaml({ stateDir: state.dir, src, url: dst }));
    const s = await onTerminal(['sync', '-c', config]);
    assert.equal(s.code, 0, s.out);
    // each bar line is erased and rewritten: ESC[2K, then the target, the bar and the counts
    assert.match(s.out, /\x1b\[2Ksrc\/t1 {2}\[[#-]{20}\] +\d+% {2}[\d,]+\/[\d,]+\+? files checked/);
    // the bar of the finished sync is full, whatever rsync's last progress line said
    assert.match(
      s.out,
      /\x1b\[2Ksrc\/t1 {2}\[#{20}\] {2}100% {2}[\d,]+\/[\d,]+ files checked[^\n]*\n(?![\s\S]*\x1b\[2Ksrc\/t1 {2}\[#*-)/,
    );
    assert.match(s.out, /ok {3}src -> t1: 1000 file\(s\)/);
    assert.deepEqual(await compareTrees(src, dst), []);

    writeFileSync(join(dst, 'd3', 'f7'), 'edited by hand\n');
    const a = await onTerminal(['audit', '--checksum', '-c', config]);
    assert.equal(a.code, 1, a.out);
    assert.match(a.out, /\x1b\[2Ksrc\/t1 {2}\[[#-]{20}\] +\d+% {2}[\d,]+\/[\d,]+\+? files checked/);
    assert.match(a.out, /content +d3\/f7/);
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
    state.dispose();
  }
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('audit without a terminal logs progress lines from the dry run, and the report is unchanged', async () => {
  const src = await makeTempDir('syncward-progress-audit-src-');
  const state = tempStateDir();
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  try {
    for (let d = 0; d < 40; d++) {
      mkdirSync(join(src, `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(src, `d${d}`, `f${f}`), randomBytes(512));
    }
    const config = parseConfig(
      yaml({ stateDir: state.dir, src, url: rsyncd.url('m'), passwordFile: rsyncd.passwordFile }),
    );
    const out = new Capture();
    const err = new Capture();
    // a short interval: 4,000 files compared by checksum over the daemon take longer than that
    const code = await runAudit(config, { checksum: true, progressIntervalMs: 10 }, out, err);
    assert.equal(code, 1, `${out.text}\n${err.text}`);
    assert.match(err.text, /^progress src\/t1: \d+%, [\d,]+\/[\d,]+\+? files checked, \d+ s so far$/m);
    // every file is missing on the empty module; progress lines never count as drift
    assert.match(out.text, /^DRIFT src -> t1 .*: 4040 missing/m);
  } finally {
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});

test('the daemon reports a long full sync as it goes: a log line every 5 s, and files, bytes and rate in status', async () => {
  const src = await makeTempDir('syncward-progress-daemon-src-');
  const state = tempStateDir();
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  // 16 MiB at --bwlimit=1000 (KiB/s): about 16 s on the wire, long enough for several progress lines
  const config = slowSync(state.dir, src, rsyncd, 64, '127.0.0.1:0');
  const daemon = spawnSyncward(['start', '-c', config]);
  try {
    await daemon.waitForLine(isWatching, 20_000, 'watching');
    const url = apiUrlOf(state.dir);
    const seen: TransferProgress[] = [];
    const isDone = (l: { msg?: string }) => /^full sync src -> t1 done/.test(msg(l));
    // status while the full sync runs, until the daemon logs it done
    const deadline = Date.now() + 120_000;
    while (!daemon.lines.some(isDone)) {
      assert.ok(Date.now() < deadline, `the full sync did not finish:\n${daemon.stderr()}`);
      const st = (await (await fetch(`${url}/api/status`)).json()) as ApiStatus;
      const p = st.sources[0]?.targets[0]?.progress;
      if (p) seen.push(p);
      await new Promise((r) => setTimeout(r, 500));
    }
    const logged = daemon.lines
      .filter((l) => /^full sync src -> t1: /.test(msg(l)))
      .map((l) => l.progress as TransferProgress);
    assert.ok(logged.length >= 2, `several progress lines in the log:\n${daemon.stderr()}`);
    const line = daemon.lines.find((l) => /^full sync src -> t1: \d+%/.test(msg(l)));
    assert.match(
      msg(line ?? {}),
      /^full sync src -> t1: \d+%, [\d,]+\/[\d,]+\+? files checked, [\d,]+ sent, [\d.]+ (B|KiB|MiB), [\d.]+ (B|KiB|MiB)\/s, \d+ s so far$/,
    );
    assert.ok(seen.length >= 2, `status showed the full sync in progress: ${JSON.stringify(seen)}`);
    for (const series of [logged, seen]) {
      for (let i = 1; i < series.length; i++) {
        const [a, b] = [series[i - 1] as TransferProgress, series[i] as TransferProgress];
        assert.ok(
          b.bytes >= a.bytes && b.files >= a.files,
          `the figures only grow: ${JSON.stringify(series)}`,
        );
      }
      const last = series.at(-1) as TransferProgress;
      assert.ok(last.bytes > (series[0] as TransferProgress).bytes, `bytes grow: ${JSON.stringify(series)}`);
    }
    assert.ok(
      seen.some((p) => p.rate > 0 && p.files > 0 && p.total > 0),
      `status has files, total and rate: ${JSON.stringify(seen)}`,
    );
    // done: no progress left in status
    const after = (await (await fetch(`${url}/api/status`)).json()) as ApiStatus;
    assert.equal(after.sources[0]?.targets[0]?.progress, null);
    assert.deepEqual(await compareTrees(src, rsyncd.modulePath('m')), []);
  } finally {
    await daemon.stop();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});
