import { type Config, type SourceConfig, type TargetConfig, targetSpec } from '../config/index.js';
import { Filter } from '../filter/index.js';
import { prepareStateDir, StateDirError } from '../journal/state-dir.js';
import {
  commandBounds,
  localRsyncVersion,
  RsyncTransport,
  type SourceSpec,
  type TargetSpec,
  type Transport,
} from '../transport/index.js';

/** One source and one of its targets, as config and as the transport needs them. */
export interface SourceTargetPair {
  source: SourceConfig;
  target: TargetConfig;
  src: SourceSpec;
  tgt: TargetSpec;
  /** every call of the command to this target, bounded for a one-shot run */
  transport: Transport;
}

/**
 * Every (source, target) of the config, narrowed by --source and --target
 * names, for the one-shot commands (sync, audit) that run without the daemon.
 */
export function selectPairs(config: Config, o: { source?: string; target?: string }): SourceTargetPair[] {
  try {
    prepareStateDir(config.stateDir);
  } catch (e) {
    // ssh puts its connection-sharing sockets there: a state_dir others can write is refused;
    // one that cannot be created only costs ssh its connection sharing
    if (!(e instanceof StateDirError) || e.kind === 'unsafe') throw e;
  }
  const isRoot = process.getuid?.() === 0;
  const pairs: SourceTargetPair[] = [];
  for (const s of config.sources) {
    if (o.source && s.name !== o.source) continue;
    // the same rules the daemon gives rsync, so a one-shot run sees what the daemon would send
    const filter = new Filter({ exclude: s.exclude, include: s.include });
    const src: SourceSpec = { root: s.path, filterArgs: filter.rsyncArgs(), delete: s.delete };
    for (const t of s.targets) {
      if (o.target && t.name !== o.target) continue;
      const tgt = { ...targetSpec(t, config.stateDir), rsyncVersion: localRsyncVersion()?.version };
      const transport = new RsyncTransport({
        source: src,
        target: tgt,
        isRoot,
        timeoutMs: commandBounds(tgt),
      });
      pairs.push({ source: s, target: t, src, tgt, transport });
    }
  }
  return pairs;
}

/** "syncward CMD: no source/target matches --source S --target T" */
export function noMatch(command: string, o: { source?: string; target?: string }): string {
  return `syncward ${command}: no source/target matches${o.source ? ` --source ${o.source}` : ''}${o.target ? ` --target ${o.target}` : ''}\n`;
}
