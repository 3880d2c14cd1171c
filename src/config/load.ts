import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type * as z from 'zod';
import type { WebhookFormat } from '../deliver/index.js';
import { compilePattern, Filter, RELAY_INBOX } from '../filter/index.js';
import { SSH_DIR, stateDirProblem } from '../journal/state-dir.js';
import { parseTargetUrl, type TargetSpec, type TargetUrl } from '../transport/index.js';
import { fromText } from '../util/bytes.js';
import { pathProblems } from './paths.js';
import { checkRsyncArgs } from './rsync-args.js';
import { configSchema, type RawConfig } from './schema.js';
import { untrustedLinkProblem, untrustedTargetLink } from './symlinked-target.js';

export interface TargetConfig {
  name: string;
  url: string;
  parsed: TargetUrl;
  passwordFile?: string;
  identityFile?: string;
  sshOptions: string[];
  rsyncArgs: string[];
  timeoutS: number;
  /** keep one batch rsync started ahead while the target is idle */
  preconnect: boolean;
  /** end and restart that rsync after this many seconds */
  preconnectRecycleS: number;
  /** the safety limit for this target: its own max_delete, else the source's */
  maxDelete?: number;
  backup?: { dir: string; keepDays: number };
  /** the target is a relay tier: its API is read for its own targets */
  relay?: RelayConfig;
}

/** A relay target's own syncward, as the upstream reads it. */
export interface RelayConfig {
  api: string;
  tokenFile?: string;
  /** the relay's source this target feeds (default: same name, else its only one) */
  source?: string;
  pollS: number;
}

export interface SourceConfig {
  name: string;
  path: string;
  delayMs: number;
  maxWaitMs: number;
  exclude: string[];
  include: string[];
  delete: boolean;
  initialSync: boolean;
  /** how the tree is watched */
  watcher: 'auto' | 'inotify' | 'fanotify';
  maxDelete?: number;
  lagThresholdS: number;
  fullSyncThreshold: number;
  stuckAfter: number;
  fullSync?: string;
  audit?: string;
  canary?: CanaryConfig;
  hooks: HookConfig[];
  targets: TargetConfig[];
}

export interface CanaryConfig {
  intervalS: number;
  timeoutS: number;
  /** relative to the source root */
  path: string;
  /** a relay's: follow the upstream's canary at path instead of writing one */
  follow: boolean;
}

export interface HookConfig {
  name: string;
  url?: string;
  command?: string[];
  include: string[];
  targets: string[];
  timeoutS: number;
}

export interface AlertsConfig {
  downAfterS: number;
  misconfiguredAfterS: number;
  lagAboveS: number;
  watchUsageAbove: number;
  unwatchedAfterS: number;
  /** a firing incident is sent again this often (seconds); 0: never */
  remindEveryS: number;
  /** the config file, for the commands alerts tell the operator to run */
  configFile?: string;
  /** state_dir, for those commands when there is no config file (`status`/`resume --state-dir`) */
  stateDir?: string;
  webhooks: WebhookConfig[];
  commands: string[][];
  email?: EmailConfig;
}

export interface WebhookConfig {
  url: string;
  format: WebhookFormat;
  tokenFile?: string;
  /** the signing secret of a dingtalk or feishu robot */
  secretFile?: string;
}

export interface EmailConfig {
  host: string;
  port: number;
  from: string;
  to: string[];
  tls: 'auto' | 'starttls' | 'implicit' | 'off';
  caFile?: string;
  username?: string;
  passwordFile?: string;
}

export interface ApiConfig {
  listen: string;
  tokenFile?: string;
  allowedHosts: string[];
  maxConnections: number;
  maxSseClients: number;
  headerTimeoutS: number;
}

/** api.listen, parsed; null when it is "off". */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "host:port", "[v6]:port" or "off". Throws with a message that says what is accepted. */
export function parseListen(listen: string): ListenAddress | null {
  if (listen === 'off') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new Error(`"${listen}" is not host:port (e.g. 127.0.0.1:8730, [::1]:8730, 0.0.0.0:8730) or "off"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** True for 127.0.0.0/8, ::1 and localhost: addresses only this host can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface Config {
  /** the file it came from, absent for `start --source ... --target ...` */
  file?: string;
  stateDir: string;
  api: ApiConfig;
  alerts: AlertsConfig;
  log: { level: 'debug' | 'info' | 'warn' | 'error'; format: 'auto' | 'json' | 'pretty' };
  sources: SourceConfig[];
}

/** One thing wrong with a config, located as precisely as the file allows. */
export interface ConfigProblem {
  file?: string;
  line?: number;
  column?: number;
  /** dotted key path, e.g. sources[0].targets[1].url */
  key?: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(':');
  const key = p.key ? `${p.key}: ` : '';
  return `${where ? `${where}: ` : ''}${key}${p.message}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      problems.length === 1
        ? `invalid config: ${formatProblem(problems[0] as ConfigProblem)}`
        : `invalid config, ${problems.length} problems:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

type KeyPath = (string | number)[];

function keyString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out;
}

/** Locates a key path in the YAML document: the line of the key itself when it exists. */
function locate(doc: Document, lc: LineCounter, path: KeyPath, childKey?: string) {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as { range?: [number] } | null)?.range?.[0];
  const full = childKey === undefined ? path : [...path, childKey];
  for (const k of full) {
    if (!isMap(node) && !(node && typeof node === 'object' && 'items' in node)) break;
    const items = (node as { items: unknown[] }).items;
    let next: unknown;
    if (typeof k === 'number') {
      next = items[k];
      if (next && typeof next === 'object' && 'range' in next)
        offset = (next as { range: [number] }).range[0];
    } else {
      for (const it of items) {
        if (isPair(it) && isScalar(it.key) && it.key.value === k) {
          offset = it.key.range?.[0] ?? offset;
          next = it.value;
        }
      }
    }
    if (next === undefined) break;
    node = next;
  }
  if (offset === undefined) return {};
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/** A value as the operator wrote it, for "expected number, not ...". */
function givenText(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'number' && !Number.isFinite(v)) return `${v} (a finite number is needed)`;
  return JSON.stringify(v);
}

/** What a schema issue means, in words an operator can act on. */
function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; see docs/configuration.md for valid keys)`;
    case 'invalid_type':
      // issue.input is there only with reportInput: true (both safeParse calls below)
      return issue.input === undefined
        ? `required key is missing (expected ${issue.expected})`
        : `expected ${issue.expected}, not ${givenText(issue.input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

/** Parses and validates config text. Throws ConfigError naming file, line and key. */
export function parseConfig(text: string, file?: string): Config {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
        return {
          file,
          line: pos?.line,
          column: pos?.col,
          message: `YAML syntax: ${e.message.split('\n')[0]}`,
        };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = configSchema().safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const path = issue.path as KeyPath;
        const child = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
        return {
          file,
          ...locate(doc, lc, path, child),
          key: keyString(child === undefined ? path : [...path, child]),
          message: issueMessage(issue),
        };
      }),
    );
  }
  const problems: ConfigProblem[] = [];
  const at = (path: KeyPath, message: string) =>
    problems.push({ file, ...locate(doc, lc, path), key: keyString(path), message });
  const config = resolveConfig(parsed.data, file, at);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Turns validated raw config into the runtime shape, checking what the schema cannot. */
function resolveConfig(
  raw: RawConfig,
  file: string | undefined,
  at: (path: KeyPath, msg: string) => void,
): Config {
  // the path rules compare resolved paths: only meaningful once every path and URL parsed
  let pathsKnown = true;
  const base = file ? resolve(file, '..') : process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const sourceNames = new Set<string>();
  const targetNames = new Map<string, string>();
  const sources = raw.sources.map((s, si): SourceConfig => {
    if (sourceNames.has(s.name)) at(['sources', si, 'name'], `duplicate source name "${s.name}"`);
    sourceNames.add(s.name);
    if (!isAbsolute(s.path)) {
      pathsKnown = false;
      at(['sources', si, 'path'], `must be an absolute path, got "${s.path}"`);
    }
    const targets = s.targets.map((t, ti): TargetConfig => {
      const key = `${s.name}/${t.name}`;
      if (targetNames.has(key))
        at(['sources', si, 'targets', ti, 'name'], `duplicate target name "${t.name}" in source "${s.name}"`);
      targetNames.set(key, t.url);
      let parsedUrl: TargetUrl = { kind: 'local', path: '/' };
      try {
        parsedUrl = parseTargetUrl(t.url);
      } catch (e) {
        pathsKnown = false;
        at(['sources', si, 'targets', ti, 'url'], (e as Error).message);
      }
      for (const p of checkRsyncArgs(t.rsync_args))
        at(['sources', si, 'targets', ti, 'rsync_args', p.index], p.message);
      if (t.password_file && parsedUrl.kind !== 'daemon') {
        at(
          ['sources', si, 'targets', ti, 'password_file'],
          'only rsync:// (daemon) targets use a password file',
        );
      }
      if (t.identity_file && parsedUrl.kind !== 'ssh') {
        at(['sources', si, 'targets', ti, 'identity_file'], 'only ssh:// targets use an identity file');
      }
      return {
        name: t.name,
        url: t.url,
        parsed: parsedUrl,
        passwordFile: t.password_file ? abs(t.password_file) : undefined,
        identityFile: t.identity_file ? abs(t.identity_file) : undefined,
        sshOptions: t.ssh_options,
        rsyncArgs: t.rsync_args,
        timeoutS: t.timeout_s,
        preconnect: t.preconnect,
        preconnectRecycleS: t.preconnect_recycle_s,
        maxDelete: t.max_delete ?? s.max_delete,
        backup: t.backup ? { dir: t.backup.dir, keepDays: t.backup.keep_days } : undefined,
        relay: t.relay
          ? {
              api: t.relay.api.replace(/\/+$/, ''),
              tokenFile: t.relay.token_file ? abs(t.relay.token_file) : undefined,
              source: t.relay.source,
              pollS: t.relay.poll_s,
            }
          : undefined,
      };
    });
    // compiled here, so `check` refuses what the watcher's Filter would throw on at start or on SIGHUP
    for (const list of ['exclude', 'include'] as const)
      s[list].forEach((pattern, pi) => {
        try {
          compilePattern(pattern, list === 'include');
        } catch (e) {
          at(['sources', si, list, pi], `${list} pattern: ${(e as Error).message}`);
        }
      });
    if (s.canary) {
      // the canary must travel the normal pipeline: an exclude that drops it would make it "missing" forever
      let blocked = false;
      try {
        blocked = new Filter({ exclude: s.exclude, include: s.include }).excludes(
          fromText(s.canary.path),
          false,
        );
      } catch {
        // an invalid pattern is reported on its own key
      }
      if (blocked)
        at(
          ['sources', si, 'canary', 'path'],
          `the canary ${s.canary.path} is excluded by this source's exclude patterns, so it would never reach a target; change canary.path or the excludes (a canary must be synced; audits leave it out on their own)`,
        );
    }
    return {
      name: s.name,
      path: resolve(s.path),
      delayMs: s.delay_ms,
      maxWaitMs: s.max_wait_ms,
      exclude: s.exclude,
      include: s.include,
      delete: s.delete,
      initialSync: s.initial_sync,
      watcher: s.watcher,
      maxDelete: s.max_delete,
      lagThresholdS: s.lag_threshold_s,
      fullSyncThreshold: s.full_sync_threshold,
      stuckAfter: s.stuck_after,
      fullSync: s.full_sync,
      audit: s.audit,
      canary: s.canary
        ? {
            intervalS: s.canary.interval_s,
            timeoutS: s.canary.timeout_s,
            path: s.canary.path,
            follow: s.canary.follow,
          }
        : undefined,
      hooks: s.hooks.map((h, hi) => {
        for (const t of h.targets)
          if (!s.targets.some((x) => x.name === t))
            at(['sources', si, 'hooks', hi, 'targets'], `no target "${t}" in source "${s.name}"`);
        h.include.forEach((pattern, pi) => {
          try {
            compilePattern(pattern, true);
          } catch (e) {
            at(['sources', si, 'hooks', hi, 'include', pi], (e as Error).message);
          }
        });
        return {
          name: h.name,
          url: h.url,
          command: h.command,
          include: h.include,
          targets: h.targets,
          timeoutS: h.timeout_s,
        };
      }),
      targets,
    };
  });
  try {
    const addr = parseListen(raw.api.listen);
    if (addr && !isLoopback(addr.host) && !raw.api.token_file)
      at(
        ['api', 'listen'],
        `${raw.api.listen} is reachable from other hosts: set api.token_file to a file holding a secret token (mode 600), or listen on 127.0.0.1`,
      );
  } catch (e) {
    at(['api', 'listen'], (e as Error).message);
  }
  const a = raw.alerts;
  let smtp: ListenAddress = { host: '', port: 0 };
  try {
    if (a.email) smtp = parseListen(a.email.smtp) ?? smtp;
  } catch (e) {
    at(['alerts', 'email', 'smtp'], (e as Error).message.replace(/ or "off"$/, ''));
  }
  const config: Config = {
    file,
    stateDir: abs(raw.state_dir),
    api: {
      listen: raw.api.listen,
      tokenFile: raw.api.token_file ? abs(raw.api.token_file) : undefined,
      allowedHosts: raw.api.allowed_hosts,
      maxConnections: raw.api.max_connections,
      maxSseClients: raw.api.max_sse_clients,
      headerTimeoutS: raw.api.header_timeout_s,
    },
    alerts: {
      downAfterS: a.down_after_s,
      misconfiguredAfterS: a.misconfigured_after_s,
      lagAboveS: a.lag_above_s,
      watchUsageAbove: a.watch_usage_above,
      unwatchedAfterS: a.unwatched_after_s,
      remindEveryS: a.remind_every_s,
      configFile: file,
      stateDir: abs(raw.state_dir),
      webhooks: a.webhooks.map((w) => ({
        url: w.url,
        format: w.format,
        tokenFile: w.token_file ? abs(w.token_file) : undefined,
        secretFile: w.secret_file ? abs(w.secret_file) : undefined,
      })),
      commands: a.commands,
      email: a.email && {
        ...smtp,
        from: a.email.from,
        to: a.email.to,
        tls: a.email.tls,
        caFile: a.email.ca_file ? abs(a.email.ca_file) : undefined,
        username: a.email.username,
        passwordFile: a.email.password_file ? abs(a.email.password_file) : undefined,
      },
    },
    log: raw.log,
    sources,
  };
  if (pathsKnown) for (const p of pathProblems(config)) at(p.key, p.message);
  return config;
}

/** Reads and validates a config file. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'no such file (create one with the example in README.md, or pass --source/--target)'
        : err.code === 'EACCES'
          ? 'permission denied (run as a user who can read it)'
          : err.message;
    throw new ConfigError([{ file, message: `cannot read config: ${why}` }]);
  }
  // absolute, so the commands syncward prints with -c FILE run from any directory
  return parseConfig(text, resolve(file));
}

export interface AdHocOptions {
  source: string;
  targets: string[];
  stateDir?: string;
  exclude?: string[];
  delayMs?: number;
  passwordFile?: string;
  /** api.listen; default 127.0.0.1:0, so two ad-hoc daemons on one host never want the same port */
  api?: string;
}

/** The config of `syncward start --source DIR --target URL...`. */
export function configFromArgs(o: AdHocOptions): Config {
  const path = resolve(o.source);
  const yamlish = {
    state_dir: o.stateDir ?? defaultStateDir(path, o.targets),
    api: { listen: o.api ?? AD_HOC_LISTEN },
    sources: [
      {
        name: basename(path) || 'root',
        path,
        exclude: o.exclude ?? [],
        delay_ms: o.delayMs ?? 0,
        targets: o.targets.map((url, i) => ({
          name: `t${i + 1}`,
          url,
          ...(o.passwordFile && url.startsWith('rsync://') ? { password_file: o.passwordFile } : {}),
        })),
      },
    ],
  };
  const parsed = configSchema().safeParse(yamlish, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ key: keyString(i.path), message: issueMessage(i) })),
    );
  }
  const problems: ConfigProblem[] = [];
  const config = resolveConfig(parsed.data, undefined, (path, message) =>
    problems.push({
      key: path.includes('targets')
        ? `--target ${o.targets[path[3] as number]}`
        : path[0] === 'state_dir'
          ? '--state-dir'
          : path[0] === 'api'
            ? '--api'
            : '--source',
      message,
    }),
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The API of `start --source`: any free port, written to state_dir/api.json (`status --state-dir` finds it). */
export const AD_HOC_LISTEN = '127.0.0.1:0';

/**
 * The state_dir of `start --source DIR --target URL...` without --state-dir:
 * one per source and target list, so two ad-hoc daemons on one host do not
 * lock each other out, and the same command run again finds its journal.
 */
export function defaultStateDir(source: string, targets: string[]): string {
  const base =
    process.getuid?.() === 0
      ? '/var/lib/syncward'
      : resolve(
          process.env.XDG_STATE_HOME ?? resolve(process.env.HOME ?? '/tmp', '.local/state'),
          'syncward',
        );
  const id = createHash('sha256')
    .update(JSON.stringify([source, ...targets]))
    .digest('hex')
    .slice(0, 12);
  return join(base, `${basename(source) || 'root'}-${id}`);
}

/**
 * Checks the parts of a config that live outside the file: state_dir, source
 * directories and password files. Each problem says what to do.
 */
export function checkEnvironment(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const unsafe = stateDirProblem(config.stateDir);
  if (unsafe) problems.push({ key: 'state_dir', message: unsafe });
  const ssh = config.sources.flatMap((s) => s.targets).find((t) => t.parsed.kind === 'ssh');
  if (ssh && controlPath(ssh, config.stateDir) === undefined)
    problems.push({
      key: 'state_dir',
      message: `state_dir ${config.stateDir} is too long for ssh's connection-sharing sockets (a unix socket path has at most ${MAX_CONTROL_PATH} bytes here, and ssh adds ${SSH_DIR}/ and 16 characters): ssh targets connect once per transfer, which is slower; use a state_dir of at most ${MAX_CONTROL_PATH - SSH_DIR.length - 18} bytes`,
    });
  for (const s of config.sources) {
    const key = `source "${s.name}"`;
    try {
      const st = statSync(s.path);
      if (!st.isDirectory()) problems.push({ key, message: `${s.path} is not a directory` });
      else accessSync(s.path, constants.R_OK | constants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({
        key,
        message:
          code === 'ENOENT'
            ? `source directory ${s.path} does not exist (create it, or fix sources[].path)`
            : code === 'EACCES'
              ? `source directory ${s.path} is not readable by this user (uid ${process.getuid?.()})`
              : `source directory ${s.path}: ${(e as Error).message}`,
      });
    }
    for (const t of s.targets) {
      const tkey = `target "${s.name}/${t.name}"`;
      if (t.parsed.kind === 'local') {
        const euid = process.geteuid?.() ?? 0;
        const link = untrustedTargetLink(t.parsed.path, euid);
        if (link) {
          const p = untrustedLinkProblem(t.parsed.path, link, euid);
          problems.push({ key: tkey, message: `${p.message}; ${p.fix.join(', ')}` });
        }
      }
      if (t.parsed.kind === 'daemon' && t.parsed.user && !t.passwordFile && !process.env.RSYNC_PASSWORD) {
        problems.push({
          key: tkey,
          message: `rsync daemon target with user "${t.parsed.user}" needs password_file (or RSYNC_PASSWORD in the environment); rsync would otherwise wait for a password prompt`,
        });
      }
      if (t.passwordFile) {
        try {
          const st = statSync(t.passwordFile);
          if ((st.mode & 0o077) !== 0) {
            problems.push({
              key: tkey,
              message: `password file ${t.passwordFile} has mode ${(st.mode & 0o777).toString(8)}; rsync refuses a password file others can read: chmod 600 ${t.passwordFile}`,
            });
          }
        } catch {
          problems.push({
            key: tkey,
            message: `password file ${t.passwordFile} does not exist or cannot be read`,
          });
        }
      }
      if (t.identityFile) {
        try {
          accessSync(t.identityFile, constants.R_OK);
        } catch {
          problems.push({
            key: tkey,
            message: `identity file ${t.identityFile} does not exist or cannot be read`,
          });
        }
      }
    }
  }
  return problems;
}

/** The transport's view of a configured target. */
export function targetSpec(tc: TargetConfig, stateDir: string): TargetSpec {
  return {
    name: tc.name,
    url: tc.parsed,
    passwordFile: tc.passwordFile,
    identityFile: tc.identityFile,
    sshOptions: tc.sshOptions,
    controlPath: controlPath(tc, stateDir),
    rsyncArgs: tc.rsyncArgs,
    backup: tc.backup,
    inbox: tc.relay ? RELAY_INBOX : undefined,
    timeoutS: tc.timeoutS,
    contimeoutS: Math.min(tc.timeoutS, 15),
  };
}

/**
 * The longest ControlPath ssh can bind anywhere: it binds PATH.<16 random
 * characters> and renames it, and a unix socket path has 104 bytes on BSD
 * and macOS (108 on Linux), the final NUL included.
 */
export const MAX_CONTROL_PATH = 104 - 1 - 17;

/**
 * The ssh connection-sharing socket of an ssh target: state_dir/ssh/ and a
 * short hash of everything that shapes the connection. Not ssh's %C, which
 * leaves out the key and the options (two targets with different keys must
 * not share a login) and is 40 characters long. None when state_dir is too
 * long for a socket path: ssh then connects once per transfer.
 */
export function controlPath(tc: TargetConfig, stateDir: string): string | undefined {
  if (tc.parsed.kind !== 'ssh') return undefined;
  const { user, host, port } = tc.parsed;
  const id = createHash('sha256')
    .update(JSON.stringify([user, host, port, tc.identityFile, tc.sshOptions]))
    .digest('hex')
    .slice(0, 16);
  const path = join(stateDir, SSH_DIR, id);
  return Buffer.byteLength(path) <= MAX_CONTROL_PATH ? path : undefined;
}

/**
 * Names in a source's root that syncward itself puts there (the canary, a
 * state_dir inside the source, a relay's inbox): a root holding only these counts as empty
 * for the delete guard.
 */
export function rootIgnore(sc: SourceConfig, stateDir: string): string[] {
  // an upstream's temp files arrive in the inbox of a relay's source
  const out: string[] = [RELAY_INBOX];
  if (sc.canary) out.push(sc.canary.path.split('/')[0] as string);
  const rel = relative(sc.path, stateDir);
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) out.push(rel.split('/')[0] as string);
  return out;
}
