import { checkRsyncArgs } from '../../config/rsync-args.js';
import {
  attr,
  child,
  children,
  type ImportWarning,
  isOn,
  type Json,
  lineAt,
  META,
  SersyncImportError,
  type XmlNode,
} from './parse.js';
import { Comments, type ImportedSource } from './write.js';

/** What each part of a confxml.xml becomes in syncward's config, with a warning for each behaviour that changes. */

/** How the rsync calls of sersync were set up, for every target. */
export interface RsyncSettings {
  params: ParamAnalysis;
  /** the <commonParams> element, for warnings */
  common?: XmlNode;
  auth?: XmlNode;
  authOn: boolean;
  user?: string;
  passwordFile?: string;
  portNode?: XmlNode;
  port?: number;
  timeout?: number;
  ssh: boolean;
}

/** One confxml.xml: reads each part in turn, collecting the source, warnings and comments. */
export class SersyncImport {
  private readonly warnings: ImportWarning[] = [];
  private readonly comments = new Comments();
  private readonly head: XmlNode;
  private readonly sersync: XmlNode;
  private readonly localpath: XmlNode;
  private readonly source: Json = {};
  private readonly exclude: string[] = [];
  private readonly hooks: Json[] = [];
  private readonly disabledHooks: { hook: Json; why: string }[] = [];

  constructor(
    root: XmlNode,
    private readonly lines: number[],
    /** position among the sources */
    private readonly index: number,
    private readonly file: string | undefined,
  ) {
    const head = child(root, 'head');
    if (!head) {
      throw new SersyncImportError(
        'no <head> element: this is not a sersync confxml.xml (its root element is <head version="2.5">)',
        1,
      );
    }
    const sersync = child(head, 'sersync');
    if (!sersync) throw new SersyncImportError('no <sersync> element inside <head>', this.lineOf(head));
    const localpath = child(sersync, 'localpath');
    if (!localpath) {
      throw new SersyncImportError(
        'no <localpath watch="..."> inside <sersync>: sersync needs the directory to watch',
        this.lineOf(sersync),
      );
    }
    this.head = head;
    this.sersync = sersync;
    this.localpath = localpath;
  }

  collect(): ImportedSource {
    this.watchDir();
    this.filter();
    this.inotify();
    const rsync = this.rsyncSettings();
    if (this.exclude.length > 0) this.source.exclude = this.exclude;
    if (rsync.params.include.length > 0) this.source.include = rsync.params.include;
    const targets = this.targets(rsync);
    this.failLog();
    this.crontab();
    this.plugins(targets[0]?.name as string);
    this.fileSystem();
    this.source.targets = targets;
    return {
      file: this.file,
      index: this.index,
      source: this.source,
      warnings: this.warnings,
      comments: this.comments,
      hooks: this.hooks,
      disabledHooks: this.disabledHooks,
    };
  }

  private lineOf(n: XmlNode | undefined): number | undefined {
    const start = (n as Record<symbol, { startIndex?: number }> | undefined)?.[META]?.startIndex;
    return start === undefined ? undefined : lineAt(this.lines, start);
  }

  private warn(node: XmlNode | undefined, message: string): void {
    this.warnings.push({ file: this.file, line: this.lineOf(node), message });
  }

  /** a comment above a key of the source */
  private note(key: string, text: string): void {
    this.comments.key(['sources', this.index], key, text);
  }

  /** <localpath watch="DIR">: the source */
  private watchDir(): void {
    const watch = attr(this.localpath, 'watch')?.trim();
    if (!watch)
      throw new SersyncImportError('<localpath> has no watch="DIR" attribute', this.lineOf(this.localpath));
    for (const extra of children(this.sersync, 'localpath').slice(1)) {
      this.warn(
        extra,
        `sersync used only the first <localpath>; this one (${attr(extra, 'watch') ?? '?'}) was ignored by sersync and is not imported: add it as another source if it should be mirrored`,
      );
    }
    const path = watch.length > 1 ? watch.replace(/\/+$/, '') : watch;
    this.source.name = nameFrom(path.split('/').pop() ?? '', 'source');
    this.source.path = path;
    if (!path.startsWith('/'))
      this.warn(
        this.localpath,
        `watch="${watch}" is not an absolute path: syncward needs one; fix sources[0].path`,
      );
  }

  /** <filter>: regexes to rsync patterns */
  private filter(): void {
    const filter = child(this.head, 'filter');
    if (!filter) return;
    if (!isOn(filter)) {
      if (children(filter, 'exclude').length > 0)
        this.note('path', `sersync's <filter> was off (start="false"): its regexes are not imported`);
      return;
    }
    for (const ex of children(filter, 'exclude')) {
      const expr = attr(ex, 'expression') ?? '';
      const pattern = regexToPattern(expr);
      if (pattern) this.exclude.push(pattern);
      else
        this.warn(
          ex,
          `filter regex "${expr}" has no faithful rsync pattern and was not imported: add an rsync pattern to exclude by hand (e.g. "*.tmp", "/cache/", "**/tmp/")`,
        );
    }
    if (this.exclude.length > 0)
      this.note(
        'exclude',
        `sersync's <filter> regexes (line ${this.lineOf(filter)}), as rsync patterns: they apply to events and to every rsync call`,
      );
  }

  /** <inotify> switches: syncward's events are fixed; say where sersync's differed */
  private inotify(): void {
    const inotify = child(this.head, 'inotify');
    const ev = (name: string): { on: boolean | undefined; node: XmlNode | undefined } => {
      const n = inotify ? child(inotify, name) : undefined;
      return { on: n ? isOn(n) : undefined, node: n };
    };
    const del = ev('delete');
    this.source.delete = del.on !== false;
    if (del.on === false) this.note('delete', 'sersync <delete start="false">: deletions are not mirrored');
    const createFolder = ev('createFolder');
    if (createFolder.on === false)
      this.warn(
        createFolder.node,
        'createFolder start="false": sersync neither watched nor sent new directories; syncward always watches a new directory and sends it whole',
      );
    const createFile = ev('createFile');
    if (createFile.on === true)
      this.warn(
        createFile.node,
        'createFile start="true": syncward does not send a regular file when it is created, only when it is closed after writing (IN_CLOSE_WRITE), so half-written files are never sent',
      );
    for (const name of ['closeWrite', 'moveFrom', 'moveTo'] as const) {
      const e = ev(name);
      if (e.on === false)
        this.warn(
          e.node,
          `${name} start="false": syncward always acts on ${name === 'closeWrite' ? 'files closed after writing' : 'moves'}; this switch has no equivalent`,
        );
    }
    const attrib = ev('attrib');
    if (attrib.on !== true)
      this.warn(
        attrib.node ?? inotify,
        'attrib is off in sersync: syncward always sends metadata changes (chmod, chown, touch), so they now reach the targets',
      );
    const modify = ev('modify');
    if (modify.on === true)
      this.warn(
        modify.node,
        'modify start="true": syncward sends a file when it is closed, and a file written for longer than max_wait_ms (default 2000) is sent anyway; there is no per-write sync',
      );
  }

  /** <sersync><rsync>: commonParams, auth, userDefinedPort, timeout, ssh */
  private rsyncSettings(): RsyncSettings {
    const rsync = child(this.sersync, 'rsync');
    const common = child(rsync, 'commonParams');
    const params = analyzeParams(attr(common, 'params') ?? '');
    for (const w of params.warnings) this.warn(common, w);
    this.exclude.push(...params.exclude);

    const auth = child(rsync, 'auth');
    const authOn = auth !== undefined && isOn(auth);
    const user = authOn ? attr(auth, 'users')?.trim() || undefined : undefined;
    const passwordFile =
      (authOn ? attr(auth, 'passwordfile')?.trim() || undefined : undefined) ?? params.passwordFile;
    if (authOn && !user) this.warn(auth, '<auth start="true"> without users="...": the URL has no user');

    const portNode = child(rsync, 'userDefinedPort');
    let port = portNode && isOn(portNode) ? Number(attr(portNode, 'port')) : params.port;
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
      this.warn(portNode, `userDefinedPort port="${attr(portNode, 'port')}" is not a TCP port; not imported`);
      port = undefined;
    }
    const timeoutNode = child(rsync, 'timeout');
    let timeout = timeoutNode && isOn(timeoutNode) ? Number(attr(timeoutNode, 'time')) : params.timeout;
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) {
      this.warn(
        timeoutNode,
        `timeout time="${attr(timeoutNode, 'time')}" is not a whole number of seconds; not imported`,
      );
      timeout = undefined;
    }
    const sshNode = child(rsync, 'ssh');
    const ssh = sshNode !== undefined && isOn(sshNode);
    if (ssh && port !== undefined)
      this.warn(
        portNode,
        `userDefinedPort ${port} with ssh: rsync ignores --port over ssh, so sersync did too; not imported (an ssh port goes in the URL: ssh://host:PORT/path)`,
      );
    if (ssh && passwordFile)
      this.warn(
        auth,
        'the rsync password file does not apply over ssh (rsync ignored it in sersync too); use ssh keys (identity_file)',
      );
    return { params, common, auth, authOn, user, passwordFile, portNode, port, timeout, ssh };
  }

  /** <remote ip="..." name="..."/>: one target each */
  private targets(rs: RsyncSettings): Json[] {
    const remotes = children(this.localpath, 'remote');
    if (remotes.length === 0)
      throw new SersyncImportError(
        '<localpath> has no <remote ip="..." name="..."/>: nothing to mirror to',
        this.lineOf(this.localpath),
      );
    const targets: Json[] = [];
    const names = new Set<string>();
    const userAt = rs.user ? `${rs.user}@` : '';
    for (const r of remotes) {
      const ip = attr(r, 'ip')?.trim();
      const module = attr(r, 'name')?.trim();
      if (!ip || !module)
        throw new SersyncImportError(
          '<remote> needs both ip="HOST" and name="MODULE" (sersync stops on this too)',
          this.lineOf(r),
        );
      let name = nameFrom(ip, 'target');
      if (names.has(name)) name = nameFrom(`${ip}-${module}`, 'target');
      for (let i = 2; names.has(name); i++) name = `${nameFrom(ip, 'target')}-${i}`;
      names.add(name);
      const host = ip.includes(':') ? `[${ip}]` : ip;
      const t: Json = { name };
      if (rs.ssh) {
        // sersync ran `rsync -e ssh ... [user@]ip:module`: a path relative to the remote user's home
        const dir = module.startsWith('/') ? module : `/${module}`;
        t.url = `ssh://${userAt}${host}${dir}`;
        if (!module.startsWith('/'))
          this.warn(
            r,
            `ssh target ${ip}:${module}: sersync passed "${module}" to ssh, relative to the remote user's home; syncward's ssh:// path is absolute, so this is ${dir}: make it the full path (e.g. /home/USER/${module})`,
          );
      } else {
        t.url = `rsync://${userAt}${host}${rs.port ? `:${rs.port}` : ''}/${module}`;
        if (rs.passwordFile) t.password_file = rs.passwordFile;
      }
      if (rs.timeout !== undefined) t.timeout_s = rs.timeout;
      if (rs.params.carry.length > 0) t.rsync_args = [...rs.params.carry];
      targets.push(t);
    }
    this.note(
      'targets',
      targetComment(remotes.length, rs.ssh, rs.params, rs.timeout, this.lineOf(rs.common)),
    );
    return targets;
  }

  /** <failLog>: syncward retries by itself */
  private failLog(): void {
    const failLog = child(this.sersync, 'failLog');
    if (!failLog) return;
    this.warn(
      failLog,
      `failLog (${attr(failLog, 'path') ?? '?'}, every ${attr(failLog, 'timeToExecute') ?? '?'} min) is not needed: syncward keeps every failed change in its journal and retries it with backoff until the target has it; remove any cron job that ran the fail log script`,
    );
  }

  /** <crontab schedule="MINUTES">: a periodic full sync */
  private crontab(): void {
    const crontab = child(this.sersync, 'crontab');
    if (!crontab || !isOn(crontab)) return;
    let minutes = Number.parseInt(attr(crontab, 'schedule') ?? '', 10);
    if (!(minutes > 0)) minutes = 600; // sersync's own fallback
    const cron = minutesToCron(minutes);
    this.source.full_sync = cron.expr;
    this.note(
      'full_sync',
      `sersync <crontab schedule="${minutes}">: a full sync every ${minutes} minutes${cron.note ? ` (${cron.note})` : ''}; it uses the same excludes`,
    );
    if (!cron.exact)
      this.warn(
        crontab,
        `crontab schedule="${minutes}": every ${minutes} minutes has no exact cron expression; full_sync is "${cron.expr}" (${cron.note}): edit it if another time suits better`,
      );
    const filter = child(this.head, 'filter');
    const cfilter = child(crontab, 'crontabfilter');
    const cfOn = cfilter !== undefined && isOn(cfilter);
    if (filter && isOn(filter) && children(filter, 'exclude').length > 0 && !cfOn)
      this.warn(
        crontab,
        "sersync silently turned this crontab off, because <filter> is on and <crontabfilter> is not; syncward's full sync uses the same excludes as real-time sync, so full_sync is set: remove it if you do not want a periodic full sync",
      );
    if (cfOn) {
      const extra = children(cfilter, 'exclude')
        .map((e) => attr(e, 'expression') ?? '')
        .filter((p) => p !== '' && !this.exclude.includes(p));
      if (extra.length > 0)
        this.warn(
          cfilter,
          `crontabfilter patterns ${extra.map((p) => `"${p}"`).join(', ')} applied to sersync's full sync only; syncward has one exclude list for every sync: add them to exclude if they should stay excluded`,
        );
    }
  }

  /** <plugin name="...">: command and http become after-sync hooks; socket and refreshCDN have none */
  private plugins(firstTarget: string): void {
    const enabled = child(this.sersync, 'plugin');
    const enabledName = enabled && isOn(enabled) ? attr(enabled, 'name') : undefined;
    const sections = children(this.head, 'plugin');
    for (const p of sections) {
      const kind = attr(p, 'name');
      if (kind === 'command') this.commandPlugin(p, enabledName === 'command', firstTarget);
      else if (kind === 'http') this.httpPlugin(p, firstTarget);
      else if (kind === 'socket') {
        const dest = child(child(p, 'localpath'), 'deshost');
        this.warn(
          p,
          `socket plugin (${attr(dest, 'ip') ?? '?'}:${attr(dest, 'port') ?? '?'}) has no equivalent: subscribe to the daemon's Server-Sent Events stream GET /api/events on api.listen instead (batches, transfers, state changes as JSON), or use an http hook`,
        );
      } else if (kind === 'refreshCDN') {
        this.warn(
          p,
          "refreshCDN plugin has no equivalent (it sent the CDN password in a URL): call your CDN's purge API from a command hook that reads the delivered paths from stdin",
        );
      } else {
        this.warn(p, `plugin "${kind ?? '?'}" is unknown; not imported`);
      }
    }
    if (enabledName && !sections.some((p) => attr(p, 'name') === enabledName))
      this.warn(
        enabled,
        `<sersync><plugin name="${enabledName}"> is enabled but no <plugin name="${enabledName}"> section defines it`,
      );
    if (this.hooks.length > 0) {
      this.source.hooks = this.hooks;
      this.note(
        'hooks',
        `sersync's plugins as after-sync hooks (targets: run once per batch, after ${firstTarget}; an empty list runs after each target)`,
      );
    }
  }

  private commandPlugin(p: XmlNode, enabled: boolean, firstTarget: string): void {
    const param = child(p, 'param');
    const prefix = words(attr(param, 'prefix') ?? '/bin/sh');
    const suffix = words(attr(param, 'suffix') ?? '');
    if (prefix.length === 0) {
      this.warn(param, 'command plugin has an empty prefix: no hook imported');
      return;
    }
    const include: string[] = [];
    const pf = child(p, 'filter');
    if (pf && isOn(pf)) {
      for (const inc of children(pf, 'include')) {
        const expr = attr(inc, 'expression') ?? '';
        const pattern = regexToPattern(expr);
        if (pattern) include.push(pattern);
        else
          this.warn(
            inc,
            `command plugin filter regex "${expr}" has no faithful rsync pattern and was not imported: add it to the hook's include by hand`,
          );
      }
    }
    // sersync ran the plugin once per change, after all remotes: once per batch, after the first target
    const hook: Json = { name: 'command', command: [...prefix, ...suffix] };
    if (include.length > 0) hook.include = include;
    hook.targets = [firstTarget];
    const how = `sersync ran \`${[...prefix, 'PATH', ...suffix].join(' ')}\` through a shell once per changed file; a syncward hook runs ${JSON.stringify(hook.command)} as an argv list (no shell) once per delivered batch, with the paths as JSON on stdin ({source, target, kind, paths: [{path, op}]}), not as arguments`;
    if (!enabled) {
      this.disabledHooks.push({
        hook,
        why: 'the command plugin is defined but not enabled in <sersync><plugin>',
      });
      this.warn(
        p,
        `the command plugin is not enabled (<sersync><plugin start="true" name="command"/>); its hook is written commented out. ${how}`,
      );
    } else if (/(^|\/)(ba|da|z|k)?sh$/.test(prefix[0] as string)) {
      this.disabledHooks.push({
        hook,
        why: `its program is a shell (${prefix[0]}), which would run the JSON on stdin as a script`,
      });
      this.warn(
        p,
        `${how}. The prefix ${prefix[0]} is a shell: it would execute that JSON, so the hook is written commented out; point it at a program that reads the JSON`,
      );
    } else {
      this.hooks.push(hook);
      this.warn(p, `${how}: adapt the program`);
    }
  }

  private httpPlugin(p: XmlNode, firstTarget: string): void {
    const lp = child(p, 'localpath');
    let url = attr(child(lp, 'deshost'), 'url')?.trim();
    if (!url) {
      this.warn(p, 'http plugin without <deshost url="...">: no hook imported');
      return;
    }
    if (!/^https?:\/\//i.test(url)) url = `http://${url}`;
    this.hooks.push({ name: 'http', url, targets: [firstTarget] });
    const watched = attr(lp, 'watch')?.replace(/\/+$/, '');
    const other = watched && watched !== this.source.path;
    this.warn(
      p,
      `http plugin: sersync POSTed form fields (watchroot, isdir, inotifyPath, mask) per inotify event; the hook POSTs JSON {source, target, kind, paths: [{path, op}]} after each batch reached ${firstTarget}: adapt the receiver${other ? `. It watched ${watched}, not ${this.source.path}: hooks run only for what a source syncs` : ''}`,
    );
  }

  private fileSystem(): void {
    const fs = child(this.head, 'fileSystem');
    if (fs && attr(fs, 'xfs') === 'true')
      this.warn(
        fs,
        'fileSystem xfs="true" is not needed: syncward checks the type of every entry a filesystem does not report',
      );
  }
}

export function targetComment(
  n: number,
  ssh: boolean,
  params: ParamAnalysis,
  timeout: number | undefined,
  line: number | undefined,
): string {
  const parts = [
    `sersync's ${n} <remote> ${ssh ? '(over ssh)' : '(rsync daemon modules)'}`,
    `commonParams "${params.raw}"${line ? ` (line ${line})` : ''}: ${params.implied.length > 0 ? `${params.implied.join(' ')} implied (syncward always runs rsync -a -H)` : 'nothing implied'}${params.carry.length > 0 ? `; carried into rsync_args: ${params.carry.join(' ')}` : ''}${params.dropped.length > 0 ? `; dropped: ${params.dropped.join(' ')}` : ''}`,
  ];
  if (timeout === undefined)
    parts.push(
      'sersync had no rsync timeout; syncward uses timeout_s (default 30) so a silent peer cannot hang a sync',
    );
  return parts.join('\n');
}

export function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => w !== '');
}

/** A syncward name (letters, digits, ".", "_", "-", starting with a letter or digit). */
export function nameFrom(s: string, fallback: string): string {
  const n = s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return n === '' ? fallback : n;
}

// ------------------------------------------------------------- regex → rsync

/**
 * One sersync filter regex as an rsync pattern, or null when no pattern
 * means the same. sersync matched with boost::regex_match (the whole string)
 * against the path relative to the watch root: `(.*)\.gz` = any path ending
 * in ".gz" = rsync "*.gz" (a basename ending in ".gz"); `^info/*` = the
 * top-level "info" = rsync "/info/".
 */
export function regexToPattern(re: string): string | null {
  let body = re.trim();
  if (body.endsWith('$') && !body.endsWith('\\$')) body = body.slice(0, -1);
  if (body.startsWith('^')) body = body.slice(1);
  const anyPrefix = /^(?:\(\.\*\)|\.\*|\(\.\+\)|\.\+)/.exec(body);
  if (anyPrefix) {
    const rest = literal(body.slice(anyPrefix[0].length));
    if (!rest || rest.includes('/')) return null;
    // ".+" needs one more character than "*" gives
    return anyPrefix[0].includes('+') ? `?*${rest}` : `*${rest}`;
  }
  const dir = /(?:\/\*|\/\.\*|\/\(\.\*\)|\/)$/.exec(body);
  const name = literal(dir ? body.slice(0, dir.index) : body);
  if (!name || name.startsWith('/')) return null;
  return dir ? `/${name}/` : `/${name}`;
}

/** The string a regex fragment matches when it has no operators, else null. */
export function literal(fragment: string): string | null {
  let out = '';
  for (let i = 0; i < fragment.length; i++) {
    const c = fragment[i] as string;
    if (c === '\\') {
      const next = fragment[i + 1];
      // \d, \w, \s, \b... are classes, not characters
      if (next === undefined || /[A-Za-z0-9]/.test(next)) return null;
      out += next;
      i++;
    } else if ('.^$*+?()[]{}|'.includes(c)) {
      return null;
    } else {
      out += c;
    }
  }
  // rsync would read these as wildcards
  if (out === '' || /[*?[\\]/.test(out)) return null;
  return out;
}

// ---------------------------------------------------------------- crontab

export const CLEAN_MINUTES = [
  1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 10080,
];

/**
 * sersync's crontab ran a full sync every N minutes after it started; cron
 * names times of day. N that divides an hour or a day (or is a week) is
 * exact. Whole hours under a day become "0 *\/H * * *", which restarts at
 * midnight (600 min: 00:00, 10:00, 20:00, then 00:00 after 4 h). Anything
 * else takes the nearest interval that is exact.
 */
export function minutesToCron(n: number): { expr: string; minutes: number; exact: boolean; note?: string } {
  if (!CLEAN_MINUTES.includes(n) && n % 60 === 0 && n < 1440) {
    const h = n / 60;
    const last = Math.floor(23 / h) * h;
    return {
      expr: `0 */${h} * * *`,
      minutes: n,
      exact: false,
      note: `cron restarts the count at midnight: it runs at ${last}:00 and then at 00:00, ${24 - last} h later`,
    };
  }
  const exact = CLEAN_MINUTES.includes(n);
  const m = exact
    ? n
    : CLEAN_MINUTES.reduce((best, c) =>
        Math.abs(Math.log(c / n)) < Math.abs(Math.log(best / n)) ? c : best,
      );
  let expr: string;
  if (m === 1) expr = '* * * * *';
  else if (m < 60) expr = `*/${m} * * * *`;
  else if (m === 60) expr = '0 * * * *';
  else if (m < 1440) expr = `0 */${m / 60} * * *`;
  else if (m === 1440) expr = '0 0 * * *';
  else expr = '0 0 * * 0';
  return { expr, minutes: m, exact, note: exact ? undefined : `the nearest exact interval is ${m} minutes` };
}

// ------------------------------------------------------------ commonParams

export interface ParamAnalysis {
  raw: string;
  /** options syncward passes anyway */
  implied: string[];
  /** options kept in rsync_args */
  carry: string[];
  /** options dropped (with a warning when they changed behaviour) */
  dropped: string[];
  exclude: string[];
  include: string[];
  port?: number;
  timeout?: number;
  passwordFile?: string;
  warnings: string[];
}

export type Verdict =
  | { kind: 'implied' }
  | { kind: 'carry' }
  | { kind: 'drop'; why?: string }
  | { kind: 'conflict'; why: string };

export const implied: Verdict = { kind: 'implied' };
export const carry: Verdict = { kind: 'carry' };
export const quiet: Verdict = { kind: 'drop' };
export const conflict = (why: string): Verdict => ({ kind: 'conflict', why });

export const UPDATE =
  'it skips files that are newer on the target, so a target edited by hand is never repaired and audits report it as drift forever';

export const SHORT: Record<string, [long: string, Verdict]> = {
  a: ['--archive', implied],
  r: ['--recursive', implied],
  l: ['--links', implied],
  p: ['--perms', implied],
  t: ['--times', implied],
  g: ['--group', implied],
  o: ['--owner', implied],
  D: ['--devices', implied],
  H: ['--hard-links', implied],
  v: ['--verbose', quiet],
  q: ['--quiet', quiet],
  h: ['--human-readable', quiet],
  i: ['--itemize-changes', quiet],
  P: [
    '--progress',
    {
      kind: 'drop',
      why: 'progress output is for terminals (syncward sync shows its own); add --partial to rsync_args if you relied on it',
    },
  ],
  R: [
    '--relative',
    {
      kind: 'drop',
      why: 'sersync needed it for its one-call-per-file commands; syncward names paths relative to the source itself',
    },
  ],
  z: ['--compress', carry],
  c: ['--checksum', carry],
  S: ['--sparse', carry],
  x: ['--one-file-system', carry],
  W: ['--whole-file', carry],
  A: ['--acls', carry],
  X: ['--xattrs', carry],
  k: ['--copy-dirlinks', carry],
  K: ['--keep-dirlinks', carry],
  L: ['--copy-links', carry],
  E: ['--executability', carry],
  u: ['--update', conflict(UPDATE)],
  n: ['--dry-run', conflict('a dry run never changes the target')],
  d: ['--dirs', conflict('it turns off recursion, which full syncs need')],
  b: ['--backup', conflict("use the target's backup setting (backup: {dir, keep_days}) instead")],
  e: ['--rsh', conflict('set ssh in the target URL (ssh://user@host:port/path) and ssh_options instead')],
};

export const LONG: Record<string, Verdict> = {
  archive: implied,
  recursive: implied,
  links: implied,
  perms: implied,
  times: implied,
  group: implied,
  owner: implied,
  devices: implied,
  specials: implied,
  'hard-links': implied,
  'numeric-ids': implied,
  verbose: quiet,
  quiet: quiet,
  stats: quiet,
  'human-readable': quiet,
  progress: quiet,
  'itemize-changes': quiet,
  relative: SHORT.R?.[1] as Verdict,
  delete: { kind: 'drop', why: "deletions follow the source's delete setting" },
  'delete-after': { kind: 'drop', why: "deletions follow the source's delete setting" },
  'delete-during': { kind: 'drop', why: "deletions follow the source's delete setting" },
  'delete-before': { kind: 'drop', why: "deletions follow the source's delete setting" },
  'delete-delay': { kind: 'drop', why: "deletions follow the source's delete setting" },
  'delete-excluded': conflict(
    'it would delete excluded paths on the target, which syncward promises never to do in real-time syncs',
  ),
  update: conflict(UPDATE),
  'ignore-existing': conflict('it never updates a file that exists on the target'),
  existing: conflict('it never creates new files on the target'),
  'size-only': conflict(
    'it misses changes that keep the size; syncward compares size and mtime to the nanosecond',
  ),
  'remove-source-files': conflict('it deletes files from the source'),
  'dry-run': conflict('a dry run never changes the target'),
  rsh: conflict('set ssh in the target URL and ssh_options instead'),
  backup: conflict("use the target's backup setting instead"),
  'backup-dir': conflict("use the target's backup setting instead"),
  compress: carry,
  checksum: carry,
  sparse: carry,
  'one-file-system': carry,
  'whole-file': carry,
  acls: carry,
  xattrs: carry,
  'copy-links': carry,
  'copy-dirlinks': carry,
  'keep-dirlinks': carry,
  executability: carry,
  bwlimit: carry,
  inplace: carry,
  partial: carry,
  'partial-dir': carry,
  'compress-level': carry,
  'compress-choice': carry,
  'skip-compress': carry,
  chmod: carry,
  chown: carry,
  'max-size': carry,
  'min-size': carry,
  'temp-dir': carry,
  'delay-updates': carry,
  fuzzy: carry,
  'no-perms': carry,
  'no-owner': carry,
  'no-group': carry,
  'no-times': carry,
  'omit-dir-times': carry,
};

/** What sersync's rsync commonParams mean for syncward. */
export function analyzeParams(raw: string): ParamAnalysis {
  const a: ParamAnalysis = {
    raw,
    implied: [],
    carry: [],
    dropped: [],
    exclude: [],
    include: [],
    warnings: [],
  };
  const tokens = words(raw);
  const judge = (shown: string, v: Verdict, carried: string) => {
    if (v.kind === 'implied') a.implied.push(shown);
    else if (v.kind === 'carry') a.carry.push(carried);
    else {
      a.dropped.push(shown);
      if (v.kind === 'conflict') a.warnings.push(`commonParams ${shown} is dropped: ${v.why}`);
      else if (v.why) a.warnings.push(`commonParams ${shown} is dropped: ${v.why}`);
    }
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as string;
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = (eq < 0 ? tok.slice(2) : tok.slice(2, eq)).toLowerCase();
      let value = eq < 0 ? undefined : tok.slice(eq + 1);
      const takesValue = [
        'exclude',
        'include',
        'port',
        'timeout',
        'password-file',
        'rsh',
        'bwlimit',
        'backup-dir',
        'partial-dir',
        'chmod',
        'chown',
        'max-size',
        'min-size',
        'temp-dir',
        'compress-level',
        'compress-choice',
        'skip-compress',
      ].includes(name);
      if (
        takesValue &&
        value === undefined &&
        tokens[i + 1] !== undefined &&
        !(tokens[i + 1] as string).startsWith('-')
      ) {
        value = tokens[++i];
      }
      const v = value?.replace(/^(['"])(.*)\1$/, '$2');
      if (name === 'exclude' && v) a.exclude.push(v);
      else if (name === 'include' && v) a.include.push(v);
      else if (name === 'port' && v) a.port = Number(v);
      else if (name === 'timeout' && v) a.timeout = Number(v);
      else if (name === 'password-file' && v) a.passwordFile = v;
      else {
        const verdict = LONG[name];
        const full = v === undefined ? `--${name}` : `--${name}=${v}`;
        if (verdict) judge(full, verdict, full);
        else {
          a.carry.push(full);
          a.warnings.push(
            `commonParams ${full} is not an option syncward knows the effect of; carried into rsync_args as is: check it`,
          );
        }
      }
      continue;
    }
    if (tok.startsWith('-') && tok.length > 1) {
      const letters = tok.slice(1);
      for (let j = 0; j < letters.length; j++) {
        const c = letters[j] as string;
        if (c === 'e') {
          // -e takes the rest of the word, or the next word
          if (j === letters.length - 1) i++;
          judge('-e', SHORT.e?.[1] as Verdict, '-e');
          break;
        }
        const known = SHORT[c];
        if (known) judge(`-${c}`, known[1], `-${c}`);
        else {
          a.carry.push(`-${c}`);
          a.warnings.push(
            `commonParams -${c} is not an option syncward knows the effect of; carried into rsync_args as is: check it`,
          );
        }
      }
      continue;
    }
    a.warnings.push(`commonParams word "${tok}" is not an option; ignored`);
  }
  // what `check` would refuse in rsync_args is dropped here, with check's own reason
  const refused = new Map(checkRsyncArgs(a.carry).map((p) => [p.index, p.message]));
  a.dropped.push(...a.carry.filter((_, i) => refused.has(i)));
  a.warnings.push(...[...refused.values()].map((m) => `commonParams: ${m}; dropped`));
  a.carry = a.carry.filter((_, i) => !refused.has(i));
  return a;
}
