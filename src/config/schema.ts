import { Cron } from 'croner';
import * as z from 'zod';
import { SIGNED_FORMATS, WEBHOOK_FORMATS } from '../deliver/formats.js';

/**
 * The YAML config. Keys are
 * snake_case in the file; unknown keys are errors (a typo must not be ignored).
 * Every key carries a `describe()` text: docs/configuration.md is generated
 * from it, so the reference cannot drift from what is accepted.
 */

/**
 * The message of an upper bound on a duration. Every duration ends in a timer
 * (or a comparison with one), and Node runs a timer longer than 2^31-1 ms
 * (24.8 days) after 1 ms instead: an unbounded interval_s made the canary fire
 * every millisecond. The bounds are far below that and far above any sane value.
 */
const atMost = (max: number, unit: 's' | 'ms' | 'days', human: string) => `at most ${max} ${unit} (${human})`;

const HOUR_S = 3_600;
const DAY_S = 86_400;
const WEEK_S = 7 * DAY_S;

/** api's defaults; the API server falls back on the same numbers. */
export const API_DEFAULTS = {
  listen: '127.0.0.1:8730',
  allowed_hosts: [] as string[],
  max_connections: 256,
  max_sse_clients: 64,
  header_timeout_s: 10,
};

/**
 * The config's schema, built each time a config is read and let go after:
 * its zod objects (each with its own methods) held 0.7 MB for as long as the
 * daemon ran, unused between two reloads.
 */
export function configSchema() {
  const name = z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
      'use letters, digits, ".", "_" or "-" (it appears in logs and URLs)',
    );

  /** A cron expression croner accepts (5 fields, or 6 with seconds). */
  const cron = z.string().superRefine((expr, ctx) => {
    try {
      new Cron(expr, { paused: true }).stop();
    } catch (e) {
      ctx.addIssue({
        code: 'custom',
        message: `not a cron expression: ${(e as Error).message.replace(/^CronPattern: /, '')} (example: "0 */6 * * *")`,
      });
    }
  });

  /** Where a webhook or hook POSTs to, or where a relay's API is read. */
  const httpUrl = z.url({
    protocol: /^https?$/,
    error: 'must be an http:// or https:// URL, e.g. "https://hooks.example/syncward"',
  });

  const targetSchema = z
    .strictObject({
      name: name.describe('Unique name of this target (in logs, status, alerts).'),
      url: z
        .string()
        .describe(
          'Where to mirror to: rsync://[user@]host[:port]/module[/path] (rsync daemon), ssh://[user@]host[:port]/abs/path (rsync over ssh), or a local absolute path.',
        ),
      password_file: z
        .string()
        .optional()
        .describe(
          'rsync daemon targets: file holding the password of the URL user, mode 600. Without it RSYNC_PASSWORD must be set.',
        ),
      identity_file: z.string().optional().describe('ssh targets: private key to log in with (ssh -i).'),
      ssh_options: z
        .array(z.string())
        .default([])
        .describe('ssh targets: extra ssh options, as "Key=value" words passed with -o.'),
      rsync_args: z
        .array(z.string())
        .default([])
        .describe(
          'Extra rsync options for this target, appended to every call (e.g. ["--bwlimit=10m", "-z"]). Options only, each with its value in the same element (--opt=value, -Tdir). Options that change what is sent, delete outside syncward\'s safety checks, hide the output syncward reads, or read other files (--remove-source-files, --files-from, --delete*, --exclude-from, --filter, -e/--rsh, --password-file, --dry-run, ...) are refused; `check` names each and why.',
        ),
      timeout_s: z
        .number()
        .int()
        .positive()
        .max(DAY_S, atMost(DAY_S, 's', '1 day'))
        .default(30)
        .describe(
          "Seconds without progress after which a call is ended and retried: syncward's own stall detection watches the rsync processes (bytes read and written, CPU time, output) and kills a call when none moved for this long. rsync's --timeout is not used (against a daemon without socket options = TCP_NODELAY its keep-alives cost ~45 ms a call). ssh targets also get ServerAliveInterval of a third of it.",
        ),
      preconnect: z
        .boolean()
        .default(true)
        .describe(
          'Keep one rsync started ahead while the target is idle: connected, logged in and waiting for its list of paths, so the next change is delivered in the round trips that remain (one small file: about half the time of a normal call on loopback, a quarter on a 50 ms link). Costs the target one idle connection (a daemon process, or an ssh session with its remote rsync) and this host one rsync process; it is recycled every preconnect_recycle_s. A batch that needs another rsync call (a new directory sent whole, a count before deletes, failing paths left out) is sent as a normal call. Only the daemon uses it (`sync`, `audit` and `doctor` never do).',
        ),
      preconnect_recycle_s: z
        .number()
        .int()
        .min(10)
        .max(DAY_S, atMost(DAY_S, 's', '1 day'))
        .default(50)
        .describe(
          "preconnect: seconds after which the waiting rsync is ended (with an empty list: nothing sent, an ordinary transfer in the daemon's log) and started again. Keep it below the target's idle limits: an rsync daemon's `timeout` in rsyncd.conf (sersync how-tos set 600, some 60 to 300), a firewall's or NAT's idle timeout. A batch handed to a connection that was cut anyway is sent again at once as a normal call, and later ones are recycled sooner.",
        ),
      max_delete: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe("This target's own max_delete, overriding the source's."),
      backup: z
        .strictObject({
          dir: z
            .string()
            .refine(
              (d) => d !== '' && !d.startsWith('/') && !d.endsWith('/') && !d.split('/').includes('..'),
              'must be a relative directory inside the target, e.g. .syncward-backup (no leading or trailing "/", no "..")',
            )
            .default('.syncward-backup')
            .describe("Backup directory, relative to the target root; never deleted by syncward's syncs."),
          keep_days: z
            .number()
            .int()
            .positive()
            .max(3650, atMost(3650, 'days', 'about 10 years'))
            .default(7)
            .describe('Dated backup directories older than this are pruned.'),
        })
        .optional()
        .describe(
          'Keep what a sync deletes or overwrites on this target under <dir>/<YYYY-MM-DD>/ (rsync --backup --backup-dir), pruned after keep_days (after each full sync).',
        ),
      relay: z
        .strictObject({
          api: httpUrl.describe(
            "The relay's own syncward API, e.g. http://10.0.0.2:8730: its status is read every poll_s and shown with this target (its targets, their states, holds and canary lag).",
          ),
          token_file: z
            .string()
            .optional()
            .describe("File holding the relay API's token (its api.token_file), sent as a Bearer token."),
          source: name
            .optional()
            .describe(
              "The relay's source that this target feeds. Default: the relay's source of the same name as this one, else its only source.",
            ),
          poll_s: z
            .number()
            .min(1, 'at least 1 s')
            .max(HOUR_S, atMost(HOUR_S, 's', '1 hour'))
            .default(5)
            .describe("How often the relay's status is read."),
        })
        .optional()
        .describe(
          'This target is a relay: another syncward watches the tree it receives and forwards it to its own targets (a tier). rsync writes its temp files into .syncward-inbox/ in the target, which every syncward source leaves out, so the relay sees each file once, complete, under its final name. Its targets appear under this one in status, /api/status, /metrics and the dashboard; while its API cannot be read they show as unknown. See docs/operations.md, Relay tiers.',
        ),
    })
    .describe('One mirror of the source.');

  /** A mail address as SMTP's MAIL FROM / RCPT TO take it: no display name, no brackets. */
  const mailbox = z
    .string()
    .regex(/^[^\s<>@,;"]+@[^\s<>@,;"]+$/, 'give a bare address, e.g. "ops@example.com" (no name, no <>)');

  /** A program run without a shell: argv[0] is an absolute path or a name on PATH. */
  const argv = z
    .array(z.string().min(1))
    .min(1, 'give the program and its arguments as a list, e.g. ["/usr/local/bin/notify", "--team", "ops"]');

  const hookSchema = z
    .strictObject({
      name: name.describe('Name of this hook (in logs).'),
      url: httpUrl.optional().describe('POST the delivered batch as JSON to this http(s) URL.'),
      command: argv
        .optional()
        .describe('Run this program (argv list, no shell) with the delivered batch as JSON on stdin.'),
      include: z
        .array(z.string())
        .default([])
        .describe(
          'rsync patterns: run only for batches with a path matching one of these, and pass only those paths. Empty: every batch.',
        ),
      targets: z
        .array(name)
        .default([])
        .describe('Run only after deliveries to these targets. Empty: after each target.'),
      timeout_s: z
        .number()
        .positive()
        .max(HOUR_S, atMost(HOUR_S, 's', '1 hour'))
        .default(30)
        .describe('A webhook or command that takes longer is abandoned (the command is killed) and logged.'),
    })
    .refine((h) => (h.url === undefined) !== (h.command === undefined), {
      message: 'a hook needs exactly one of url or command',
    })
    .describe('An after-sync hook.');

  const canarySchema = z
    .strictObject({
      interval_s: z
        .number()
        .min(1, 'at least 1 s')
        .max(DAY_S, atMost(DAY_S, 's', '1 day'))
        .default(60)
        .describe('How often a canary file is written into the source.'),
      timeout_s: z
        .number()
        .min(1, 'at least 1 s')
        .max(DAY_S, atMost(DAY_S, 's', '1 day'))
        .default(120)
        .describe('A canary not read back from a target within this many seconds raises canaryMissing.'),
      path: z
        .string()
        .refine(
          (d) => d !== '' && !d.startsWith('/') && !d.endsWith('/') && !d.split('/').includes('..'),
          'must be a relative file path inside the source, e.g. .syncward-canary',
        )
        .default('.syncward-canary')
        .describe(
          "File the canary is written to, relative to the source root. Left out of audits, but it must be synced: the source's excludes must not match it.",
        ),
      follow: z
        .boolean()
        .default(false)
        .describe(
          "On a relay: write no canary; follow the one the upstream syncward writes into this tree (at path) to each target, so its lag there is from the first source's write (the hosts' clocks must agree). The upstream shows it per leaf.",
        ),
    })
    .describe(
      'Canary: a small file with a nonce written into the source every interval_s, sent through the normal pipeline, and read back from every target (an rsync fetch of that one file). Write-to-arrival is the true replication lag (status: canary.lagMs); one not back within timeout_s raises canaryMissing (watcher or transfer path dead), cleared when a later one arrives.',
    );

  const sourceSchema = z.strictObject({
    name: name.describe('Unique name of this source.'),
    path: z.string().min(1).describe('Absolute path of the directory tree to mirror.'),
    delay_ms: z
      .number()
      .int()
      .min(0)
      .max(HOUR_S * 1000, atMost(HOUR_S * 1000, 'ms', '1 hour'))
      .default(0)
      .describe(
        'Extra coalescing window after a path last changed. 0 sends a completed file at once when the target is idle; changes that arrive during a transfer form the next batch anyway.',
      ),
    max_wait_ms: z
      .number()
      .int()
      .positive()
      .max(HOUR_S * 1000, atMost(HOUR_S * 1000, 'ms', '1 hour'))
      .default(2000)
      .describe(
        'Upper bound on how long a change waits: a file written continuously is still sent this long after its first write.',
      ),
    exclude: z
      .array(z.string())
      .default([])
      .describe(
        'rsync exclude patterns ("*.swp", "/cache/", "**/tmp/", ".git/"). Applied to events and passed to every rsync call. Nothing is excluded by default; dotfiles sync.',
      ),
    include: z
      .array(z.string())
      .default([])
      .describe('rsync include patterns, checked before the excludes (first match wins).'),
    delete: z
      .boolean()
      .default(true)
      .describe('Mirror deletions to the targets. false: never delete anything on a target.'),
    initial_sync: z
      .boolean()
      .default(true)
      .describe(
        'At start, after the watches are in place, run a full sync to every target so nothing changed while syncward was down is lost.',
      ),
    watcher: z
      .enum(['auto', 'inotify', 'fanotify'])
      .default('auto')
      .describe(
        'How the tree is watched. auto (the default): inotify, or fanotify once the walk at start finds more than 50,000 directories and fanotify can watch the tree. inotify: one watch per directory, on any filesystem (a walk at start; fs.inotify.max_user_watches bounds it). fanotify: one mark on the filesystem the source lives on, no walk and no watch limit, for trees of millions of directories; needs root, Linux >= 5.17 and a filesystem with file handles (ext4, xfs), and no other filesystem mounted inside the source. A source that fanotify cannot watch falls back to inotify and the log says why.',
      ),
    max_delete: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'Safety hold: a batch or full sync that would delete more entries than this on a target puts that target on hold before anything is deleted; `syncward resume` lets it go on. Full syncs count with a dry run first.',
      ),
    lag_threshold_s: z
      .number()
      .positive()
      .max(WEEK_S, atMost(WEEK_S, 's', '1 week'))
      .default(60)
      .describe('A target whose oldest pending change is older than this is reported as lagging.'),
    full_sync_threshold: z
      .number()
      .int()
      .positive()
      .default(10000)
      .describe(
        'When more changes than this are pending for a target (a long outage, a huge burst), it gets one full sync instead of a batch, which also bounds memory.',
      ),
    stuck_after: z
      .number()
      .int()
      .positive()
      .default(5)
      .describe(
        'A path that fails this many transfers in a row (rsync exit 23, e.g. unreadable) is marked stuck and alerted; it is retried at the next full sync and whenever it changes.',
      ),
    full_sync: cron
      .optional()
      .describe(
        'Cron expression for a periodic full sync of this source to all its targets (like sersync\'s crontab), e.g. "0 */6 * * *".',
      ),
    audit: cron
      .optional()
      .describe(
        'Cron expression (5 fields, or 6 with seconds) for a periodic audit of this source against each target (rsync --dry-run --itemize-changes). Results go to the journal, status and metrics; drift raises a drift alert. Paths still pending for a target are counted as pending, not drift; an unreachable target records an error, not drift; a target is never audited twice at once.',
      ),
    canary: canarySchema.optional(),
    hooks: z
      .array(hookSchema)
      .default([])
      .describe(
        'After-sync hooks (sersync\'s plugins, done safely): after a batch reached a target, POST it to a URL or give it to a command as JSON ({source, target, kind, at, paths: [{path, op}]}). A full sync has kind "full" and no paths. Retried with backoff; a hook that falls behind gets waiting batches merged, never dropped.',
      ),
    targets: z
      .array(targetSchema)
      .min(1, 'a source needs at least one target')
      .describe('Where this source is mirrored.'),
  });

  return z.strictObject({
    state_dir: z
      .string()
      .default('/var/lib/syncward')
      .describe(
        "Directory for syncward state (journal, lock, control socket, ssh connection sockets). Must belong to syncward's user and be writable by nobody else, and lie outside every source and every local target.",
      ),
    api: z
      .strictObject({
        listen: z
          .string()
          .default(API_DEFAULTS.listen)
          .describe(
            'host:port of the dashboard, JSON API, SSE event stream and /metrics ("off" disables it; port 0 picks a free port and writes the address to state_dir/api.json).',
          ),
        token_file: z
          .string()
          .optional()
          .describe(
            'File holding the API token (mode 600). Required when listen is not a loopback address; then every request needs "Authorization: Bearer <token>".',
          ),
        allowed_hosts: z
          .array(
            z
              .string()
              .regex(
                /^[A-Za-z0-9][A-Za-z0-9.-]*$/,
                'a host name without port or scheme, e.g. sync.example.com',
              ),
          )
          .default([])
          .describe(
            'Host names the API answers to besides localhost, 127.0.0.0/8, [::1] and the listen address (e.g. the name of a TLS proxy in front of it). Any other Host header is refused with 403, which stops DNS-rebinding pages.',
          ),
        max_connections: z
          .number()
          .int()
          .min(8)
          .max(65536)
          .default(API_DEFAULTS.max_connections)
          .describe(
            'Open API connections at most; more are closed at once. Each holds a file descriptor that rsync needs too.',
          ),
        max_sse_clients: z
          .number()
          .int()
          .min(1)
          .max(65536)
          .default(API_DEFAULTS.max_sse_clients)
          .describe(
            'Clients of the /api/events stream at most (each is a dashboard tab or a script); more get 503.',
          ),
        header_timeout_s: z
          .number()
          .min(1)
          .max(300)
          .default(API_DEFAULTS.header_timeout_s)
          .describe(
            'A client must send its request headers within this many seconds, or its connection is closed.',
          ),
      })
      .refine((a) => a.max_sse_clients < a.max_connections, {
        message:
          'max_sse_clients must be below max_connections, or event streams alone could take every connection',
        path: ['max_sse_clients'],
      })
      .default(API_DEFAULTS)
      .describe('HTTP API settings.'),
    alerts: z
      .strictObject({
        down_after_s: z
          .number()
          .min(0)
          .max(WEEK_S, atMost(WEEK_S, 's', '1 week'))
          .default(60)
          .describe(
            "Alert when a target has been down this long, or a relay target's API has not answered this long (relayUnreachable).",
          ),
        misconfigured_after_s: z
          .number()
          .min(0)
          .max(WEEK_S, atMost(WEEK_S, 's', '1 week'))
          .default(0)
          .describe('Alert when a target has been misconfigured (auth, module, path) this long.'),
        lag_above_s: z
          .number()
          .positive()
          .max(WEEK_S, atMost(WEEK_S, 's', '1 week'))
          .default(300)
          .describe("Alert when a target's oldest pending change, or its canary lag, is older than this."),
        watch_usage_above: z
          .number()
          .gt(0)
          .max(1)
          .default(0.9)
          .describe('Alert when watched directories exceed this share of fs.inotify.max_user_watches.'),
        unwatched_after_s: z
          .number()
          .min(0)
          .max(86_400)
          .default(30)
          .describe(
            'Alert when a directory could not be listed or watched (out of file descriptors, memory or inotify watches; no permission) for this long; it is retried meanwhile, and a full sync runs once it is watched again.',
          ),
        remind_every_s: z
          .number()
          .min(0)
          .max(WEEK_S, atMost(WEEK_S, 's', '1 week'))
          .default(3600)
          .describe(
            'An alert still firing is sent again to the webhooks and commands (and logged) every this many seconds, until it resolves; 0: never. Each alert fires once and resolves once either way.',
          ),
        webhooks: z
          .array(
            z
              .strictObject({
                url: httpUrl.describe(
                  'Receives each alert as a JSON POST (for a chat robot: the webhook address the service gave, its key or access_token included).',
                ),
                format: z
                  .enum(WEBHOOK_FORMATS)
                  .default('syncward')
                  .describe(
                    "The body: syncward (syncward's JSON), slack (incoming webhook), dingtalk (DingTalk robot, markdown), wecom (WeCom group robot, markdown), feishu (Feishu/Lark custom bot, text). A chat service's HTTP 200 answer with a non-zero errcode/code counts as a failed delivery.",
                  ),
                token_file: z.string().optional().describe('Sent as "Authorization: Bearer <contents>".'),
                secret_file: z
                  .string()
                  .optional()
                  .describe(
                    'dingtalk and feishu: file (mode 600) holding the robot\'s signing secret ("加签"); each message is then signed (timestamp + sign) as the service requires.',
                  ),
              })
              .refine((w) => w.secret_file === undefined || SIGNED_FORMATS.includes(w.format), {
                message: `secret_file signs messages for format ${SIGNED_FORMATS.join(' or ')} only (slack and wecom carry their key in the URL)`,
                path: ['secret_file'],
              }),
          )
          .default([])
          .describe(
            'Webhooks: a POST per alert firing and per alert resolving (format syncward: {event: "firing" | "resolved", text, incident, host, syncward}); 10 s timeout, up to 5 tries with backoff.',
          ),
        commands: z
          .array(argv)
          .default([])
          .describe(
            'Programs run per alert firing and resolving (argv list, no shell), the same JSON as webhooks on stdin; killed after 10 s, retried like webhooks on a non-zero exit.',
          ),
        email: z
          .strictObject({
            smtp: z
              .string()
              .regex(
                /^(?:\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/,
                'give host:port of the mail server, e.g. "mail.example.com:587"',
              )
              .describe('host:port of the mail server that takes the alert mail (SMTP).'),
            from: mailbox.describe('Sender address.'),
            to: z.array(mailbox).min(1, 'name at least one recipient').describe('Recipient addresses.'),
            tls: z
              .enum(['auto', 'starttls', 'implicit', 'off'])
              .default('auto')
              .describe(
                'auto: STARTTLS when the server offers it; starttls: STARTTLS or fail; implicit: TLS from the start (SMTPS, port 465); off: never (the mail travels in clear).',
              ),
            ca_file: z
              .string()
              .optional()
              .describe(
                "PEM file of the CA to trust for the server's certificate instead of the system's (a private CA).",
              ),
            username: z
              .string()
              .min(1)
              .optional()
              .describe('Log in with AUTH PLAIN (or LOGIN) as this user.'),
            password_file: z
              .string()
              .optional()
              .describe(
                'File (mode 600) holding the password for username; sent only over TLS, or to a loopback server.',
              ),
          })
          .refine((e) => (e.username === undefined) === (e.password_file === undefined), {
            message: 'username and password_file go together',
            path: ['password_file'],
          })
          .optional()
          .describe(
            'E-mail: one mail per alert firing and per alert resolving (subject: the alert in one line; body: its facts, UTF-8); 10 s timeout, retried like webhooks.',
          ),
      })
      .default({
        down_after_s: 60,
        misconfigured_after_s: 0,
        lag_above_s: 300,
        watch_usage_above: 0.9,
        unwatched_after_s: 30,
        remind_every_s: 3600,
        webhooks: [],
        commands: [],
      })
      .describe(
        'Alert rules and where alerts go. Alerts are always logged as "ALERT <kind>: ..." lines too.',
      ),
    log: z
      .strictObject({
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('Lowest level logged.'),
        format: z
          .enum(['auto', 'json', 'pretty'])
          .default('auto')
          .describe('auto: readable on a terminal, JSON lines otherwise.'),
      })
      .default({ level: 'info', format: 'auto' })
      .describe('Logging.'),
    sources: z
      .array(sourceSchema)
      .min(1, 'the config needs at least one source')
      .describe('Trees to mirror.'),
  });
}

export type RawConfig = z.output<ReturnType<typeof configSchema>>;
