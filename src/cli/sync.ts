import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, targetSpec } from '../config/index.js';
import { Filter } from '../filter/index.js';
import { buildFullSyncCall, runRsync } from '../transport/index.js';
import { EXIT } from './exit.js';

export interface SyncOptions {
  source?: string;
  target?: string;
  dryRun?: boolean;
  json?: boolean;
}

interface SyncResult {
  source: string;
  target: string;
  ok: boolean;
  code: number | null;
  class: string;
  files: number;
  bytes: number;
  durationMs: number;
  message?: string;
}

/**
 * `syncward sync`: one full rsync of each selected source to each of its
 * selected targets, all targets in parallel, then a summary. Works with or
 * without the daemon running (rsync makes a second sync harmless).
 */
export async function runSync(
  config: Config,
  o: SyncOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const isRoot = process.getuid?.() === 0;
  try {
    mkdirSync(join(config.stateDir, 'ssh'), { recursive: true, mode: 0o700 });
  } catch {
    // ssh then runs without connection sharing; nothing else needs the state dir here
  }
  const jobs: Promise<SyncResult>[] = [];
  for (const s of config.sources) {
    if (o.source && s.name !== o.source) continue;
    const filter = new Filter({ exclude: s.exclude, include: s.include });
    const source = { root: s.path, filterArgs: filter.rsyncArgs(), delete: s.delete };
    for (const t of s.targets) {
      if (o.target && t.name !== o.target) continue;
      const spec = targetSpec(t, config.stateDir);
      const call = buildFullSyncCall(source, spec, { isRoot, dryRun: o.dryRun });
      if (!o.json) err.write(`sync ${s.name} -> ${t.name} (${t.url}) ...\n`);
      jobs.push(
        runRsync(call, { timeoutMs: (t.timeoutS * 4 + 3600) * 1000 }).then((r) => {
          const ok = r.exit.class === 'ok' || r.exit.class === 'vanished';
          const res: SyncResult = {
            source: s.name,
            target: t.name,
            ok,
            code: r.code,
            class: r.exit.class,
            files: r.files,
            bytes: r.bytes,
            durationMs: r.durationMs,
            message: ok ? undefined : r.exit.message,
          };
          if (!o.json) {
            err.write(
              ok
                ? `ok   ${s.name} -> ${t.name}: ${r.files} file(s), ${r.bytes} byte(s) sent in ${(r.durationMs / 1000).toFixed(1)} s${o.dryRun ? ' (dry run)' : ''}\n`
                : `FAIL ${s.name} -> ${t.name}: rsync exit ${r.code ?? r.signal} (${r.exit.class}): ${r.exit.message}\n${indent(r.exit.rsyncMessage)}`,
            );
          }
          return res;
        }),
      );
    }
  }
  if (jobs.length === 0) {
    err.write(
      `syncward sync: no source/target matches${o.source ? ` --source ${o.source}` : ''}${o.target ? ` --target ${o.target}` : ''}\n`,
    );
    return EXIT.usage;
  }
  const results = await Promise.all(jobs);
  if (o.json) out.write(`${JSON.stringify({ results }, null, 2)}\n`);
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.failure;
}

function indent(text: string): string {
  if (!text.trim()) return '';
  return `${text
    .trim()
    .split('\n')
    .map((l) => `       rsync: ${l}`)
    .join('\n')}\n`;
}
