import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { LagChart } from './chart.js';
import {
  type AuditView,
  ago,
  bytes,
  clock,
  DRIFT_KINDS,
  duration,
  type Incident,
  keyOf,
  type LeafRow,
  lagSeconds,
  leafLag,
  leafRows,
  type RelayStatus,
  relayLine,
  type SourceStatus,
  STATE_LABEL,
  type TargetStatus,
  type TransferProgress,
} from './model.js';
import type { Store, Transfer } from './store.js';

/** Re-renders on every store change, and every second for the "… ago" texts. */
function useStore(store: Store): number {
  const [, setV] = useState(0);
  const [now, setNow] = useState(Date.now());
  useEffect(() => store.subscribe(() => setV(store.version)), [store]);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function App({ store }: { store: Store }) {
  const now = useStore(store);
  const st = store.status;
  return html`
    <header>
      <h1>syncward</h1>
      <span class="meta">
        ${st ? html`<span id="version">v${st.version} · pid ${st.pid} · up ${duration(now - st.startedAt)}</span>` : null}
        <span id="link" data-state=${store.link} title="event stream">${store.link}</span>
      </span>
    </header>
    ${store.needToken ? html`<${TokenForm} store=${store} />` : null}
    ${store.statusError ? html`<p id="status-error" class="error">${store.statusError}</p>` : null}
    ${st ? html`<${Alerts} id="alerts" title="Open alerts" alerts=${st.alerts} now=${now} />` : null}
    ${st ? html`<${Grid} store=${store} sources=${st.sources} now=${now} />` : null}
    ${st && store.selected ? html`<${Detail} store=${store} now=${now} />` : null}
  `;
}

function TokenForm({ store }: { store: Store }) {
  const [value, setValue] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    store.submitToken(value);
  };
  return html`
    <form id="token-form" class="panel" onSubmit=${submit}>
      <label for="token-input">
        ${store.tokenRejected ? 'The token was not accepted. ' : 'This syncward API needs a token. '}
        Enter the contents of the daemon's <code>api.token_file</code>:
      </label>
      <input id="token-input" type="password" autocomplete="off" value=${value}
        onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit">Connect</button>
    </form>
  `;
}

function Alerts(props: { id: string; title: string; alerts: Incident[]; now: number }) {
  if (props.alerts.length === 0)
    return html`<section id=${props.id} class="alerts none">No open alerts.</section>`;
  return html`
    <section id=${props.id} class="alerts">
      <h2>${props.title} (${props.alerts.length})</h2>
      <ul>
        ${props.alerts.map(
          (a) => html`
            <li key=${a.id} data-kind=${a.kind} data-severity=${a.severity}>
              <span class="sev">${a.severity}</span>
              <span class="what">${a.kind}${a.target ? ` · ${a.source}/${a.target}` : ` · ${a.source}`}</span>
              <span class="msg">${a.message}</span>
              <span class="when">since ${ago(a.firedAt, props.now)}</span>
            </li>
          `,
        )}
      </ul>
    </section>
  `;
}

/** The full sync in flight: rsync's percent, files checked and sent, bytes and rate. */
function FullSyncProgress({ p, now }: { p: TransferProgress; now: number }) {
  const files =
    p.total > 0 ? `${p.checked}/${p.total}${p.listComplete ? '' : '+'} files checked, ${p.files} sent, ` : '';
  return html`
    <p id="progress" data-bytes=${p.bytes} data-files=${p.files}>
      <progress max="100" value=${p.percent}></progress>
      Full sync ${p.at === null ? 'starting' : `${p.percent}%: ${files}${bytes(p.bytes)} at ${bytes(p.rate)}/s`}, ${duration(now - p.startedAt)} so far
    </p>
  `;
}

function Grid(props: { store: Store; sources: SourceStatus[]; now: number }) {
  return html`
    <section id="grid">
      ${props.sources.map(
        (s) => html`
          <div class="source-row" key=${s.name} data-source=${s.name} data-state=${s.state}>
            <div class="source-head">
              <strong>${s.name}</strong>
              <span class="path">${s.path}</span>
              <span class="sstate" data-state=${s.state}>${s.state} · ${s.watcher === 'fanotify' ? 'fanotify (whole filesystem)' : `${s.watchedDirs} dirs`}</span>
            </div>
            <div class="cells">
              ${s.targets.map((t) => html`<${Cell} store=${props.store} t=${t} now=${props.now} />`)}
            </div>
            ${s.targets.filter((t) => t.relay).map((t) => html`<${Tier} key=${t.target} t=${t} now=${props.now} />`)}
          </div>
        `,
      )}
    </section>
  `;
}

function Cell({ store, t, now }: { store: Store; t: TargetStatus; now: number }) {
  const key = keyOf(t.source, t.target);
  const lag = lagSeconds(t, now);
  // what the last audit found stays on the cell until an audit finds the target clean
  const a = t.lastAudit;
  const drift = a && !a.error ? a.drift.missing + a.drift.extra + a.drift.content + a.drift.metadata : 0;
  return html`
    <button key=${key} class="cell" type="button" data-target=${key} data-state=${t.state}
      data-drift=${drift > 0 || t.stuck > 0 ? 'true' : 'false'}
      data-stuck=${t.stuck > 0 ? 'true' : 'false'}
      aria-pressed=${store.selected === key} onClick=${() => store.select(key)}>
      <span class="tname">${t.target}</span>
      <span class="tstate">${STATE_LABEL[t.state] ?? t.state}</span>
      <span class="figures">
        ${t.progress ? html`<span data-field="progress">full sync ${t.progress.percent}%</span>` : null}
        <span data-field="pending">${t.pending} pending</span>
        <span data-field="lag">lag ${lag > 0 ? duration(lag * 1000) : '0 s'}</span>
        <span data-field="last-sync">synced ${ago(t.lastSuccessAt, now)}</span>
        ${drift > 0 ? html`<span data-field="drift" class="drift">${drift} drift at last audit</span>` : null}
        ${t.stuck > 0 ? html`<span data-field="stuck" class="drift">${t.stuck} stuck</span>` : null}
      </span>
    </button>
  `;
}

/** A relay target's own targets, one row each beneath it (a tier further down indented), and how its API answers. */
function Tier({ t, now }: { t: TargetStatus; now: number }) {
  const r = t.relay as RelayStatus;
  const rows = leafRows(t);
  return html`
    <div class="tier" data-relay=${keyOf(t.source, t.target)} data-state=${r.state}>
      <div class="tier-head">
        <strong>${t.target}</strong>
        <span class="muted">relays to ${r.leaves.length} target(s) · ${r.api}</span>
        <span class="relay-state" data-state=${r.state}>${relayLine(r, now)}</span>
      </div>
      ${rows.length > 0 ? html`<ul class="leaves">${rows.map((row) => html`<${Leaf} key=${row.path} row=${row} now=${now} />`)}</ul>` : null}
    </div>
  `;
}

function Leaf({ row, now }: { row: LeafRow; now: number }) {
  const l = row.leaf;
  const lag = leafLag(l, now);
  // beneath an unknown leaf everything is unknown for the reason the relay's line gives: said once, there
  const known = l.state !== 'unknown';
  return html`
    <li class="leaf" data-leaf=${row.path} data-state=${l.state} title=${l.stateReason}>
      <span class="lname" style=${`padding-left: ${row.via.length * 18}px`}>└ ${l.target}</span>
      <span class="lstate">${STATE_LABEL[l.state] ?? l.state}</span>
      <span data-field="pending">${known ? `${l.pending} pending${l.stuck ? ` (${l.stuck} stuck)` : ''}` : '— pending'}</span>
      <span data-field="lag">lag ${lag === null ? '—' : `${duration(lag.ms)}${lag.canary ? ' (canary)' : ''}`}</span>
      <span data-field="last-sync">synced ${ago(l.lastSuccessAt, now)}</span>
      <span class="note">
        ${known && l.holdReason ? html`<span data-field="hold">on hold: ${l.holdReason}</span>` : null}
        ${known && (l.state === 'down' || l.state === 'misconfigured') ? html`<span class="error">${l.lastError ?? l.stateReason}</span>` : null}
        ${known && l.relay && l.relay.state !== 'ok' ? html`<span data-field="relay" class="error">its relay ${relayLine(l.relay, now)}</span>` : null}
      </span>
    </li>
  `;
}

function Detail({ store, now }: { store: Store; now: number }) {
  const key = store.selected as string;
  let target: TargetStatus | null = null;
  for (const s of store.status?.sources ?? [])
    for (const t of s.targets) if (keyOf(s.name, t.target) === key) target = t;
  if (!target) return null;
  const t = target;
  const alerts = (store.status?.alerts ?? []).filter((a) => a.source === t.source && a.target === t.target);
  const samples = store.lag.get(key) ?? [];
  const busy = store.busy?.key === key ? store.busy.action : null;
  const result = store.result?.key === key ? store.result : null;
  const button = (action: 'sync' | 'audit' | 'resume', label: string, enabled = true) => html`
    <button type="button" data-action=${action} disabled=${busy !== null || !enabled}
      onClick=${() => void store.act(action, t.source, t.target)}>
      ${busy === action ? `${label}…` : label}
    </button>
  `;
  return html`
    <section id="detail" class="panel" data-target=${key} data-state=${t.state}>
      <div class="detail-head">
        <h2>${key}</h2>
        <span class="url">${t.url}</span>
        <span class="badge" data-state=${t.state}>${STATE_LABEL[t.state] ?? t.state}</span>
        <span class="since">since ${ago(t.stateSince, now)}${t.stateReason ? ` — ${t.stateReason}` : ''}</span>
      </div>
      ${t.pausedSince ? html`<p class="hold" id="paused">Paused by an operator ${ago(t.pausedSince, now)}: nothing is sent, ${t.pending} change(s) wait in the journal.</p>` : null}
      ${t.holdReason ? html`<p class="hold">On hold: ${t.holdReason}</p>` : null}
      ${t.progress ? html`<${FullSyncProgress} p=${t.progress} now=${now} />` : null}
      ${t.lastError ? html`<p id="last-error" class="error">Last error: ${t.lastError}</p>` : null}
      <div class="actions">
        ${button('sync', 'Full sync')} ${button('audit', 'Audit')} ${button('resume', 'Resume', t.state === 'held' || t.state === 'paused')}
        ${
          result
            ? html`<span id="action-result" data-action=${result.action} data-ok=${String(result.ok)}
                class=${result.ok ? 'ok' : 'error'}>${clock(result.at)} ${result.message}</span>`
            : null
        }
      </div>
      <dl class="facts">
        <dt>pending</dt><dd>${t.pending}${t.stuck ? ` (${t.stuck} stuck)` : ''}</dd>
        ${
          t.stuck
            ? html`<dt>stuck</dt><dd id="stuck-paths" class="drift" title="these paths fail every transfer; everything else keeps syncing">${(t.stuckPaths ?? []).slice(0, 10).join(', ')}${t.stuck > 10 ? ', …' : ''}</dd>`
            : null
        }
        <dt>last sync</dt><dd>${ago(t.lastSuccessAt, now)}</dd>
        <dt>last full sync</dt><dd>${ago(t.lastFullSyncAt, now)}</dd>
        ${t.relay ? html`<dt>relay</dt><dd id="relay-state" data-state=${t.relay.state}>${t.relay.api}: ${relayLine(t.relay, now)}</dd>` : null}
        ${t.canary ? html`<dt>canary lag</dt><dd>${t.canary.lagMs === null ? '—' : duration(t.canary.lagMs)}${t.canary.missingSince ? ` (missing since ${ago(t.canary.missingSince, now)})` : ''}</dd>` : null}
      </dl>
      <h3>Lag, last hour</h3>
      <${LagChart} key=${key} samples=${samples} version=${store.version} />
      <div class="columns">
        <${Transfers} list=${store.transfers.get(key) ?? []} now=${now} />
        <${Audit} audit=${store.audits.get(key) ?? null} now=${now} />
      </div>
      <${Alerts} id="target-alerts" title="Open alerts on this target" alerts=${alerts} now=${now} />
    </section>
  `;
}

function Transfers({ list, now }: { list: Transfer[]; now: number }) {
  return html`
    <div id="transfers">
      <h3>Recent transfers</h3>
      ${
        list.length === 0
          ? html`<p class="muted">None since this page opened.</p>`
          : html`
            <table>
              <thead><tr><th>when</th><th>kind</th><th>paths</th><th>files</th><th>bytes</th><th>took</th><th>result</th></tr></thead>
              <tbody>
                ${list.map(
                  (r) => html`
                    <tr data-result=${r.result} data-kind=${r.kind}>
                      <td title=${clock(r.at)}>${ago(r.at, now)}</td>
                      <td>${r.kind}</td>
                      <td class="paths" title=${r.sample.join('\n')}>
                        ${r.kind === 'full' ? `full sync${r.reason ? ` (${r.reason})` : ''}` : r.sample.slice(0, 3).join(', ')}
                        ${r.kind !== 'full' && r.changes > r.sample.slice(0, 3).length ? ` +${r.changes - r.sample.slice(0, 3).length}` : ''}
                      </td>
                      <td>${r.files}</td>
                      <td>${bytes(r.bytes)}</td>
                      <td>${duration(r.durationMs)}</td>
                      <td class="result" title=${r.message ?? ''}>${r.result}${r.code ? ` (${r.code})` : ''}</td>
                    </tr>
                  `,
                )}
              </tbody>
            </table>
          `
      }
    </div>
  `;
}

function Audit({ audit, now }: { audit: AuditView | null; now: number }) {
  if (!audit)
    return html`<div id="audit" data-audit="none"><h3>Last audit</h3><p class="muted">Not audited yet.</p></div>`;
  const total = DRIFT_KINDS.reduce((n, k) => n + audit.counts[k], 0);
  const verdict = audit.error ? 'error' : total === 0 ? 'in-sync' : 'drift';
  return html`
    <div id="audit" data-audit=${verdict}>
      <h3>Last audit</h3>
      <p>
        ${clock(audit.at)} (${ago(audit.at, now)})${audit.checksum ? ', with checksums' : ''}:${' '}
        ${audit.error ? html`<span class="error">could not audit: ${audit.error}</span>` : total === 0 ? 'in sync' : `${total} drift entr${total === 1 ? 'y' : 'ies'}`}
        ${audit.pending ? `; ${audit.pending} pending (on their way, not drift)` : ''}
      </p>
      <ul class="counts">
        ${DRIFT_KINDS.map((k) => html`<li data-kind=${k} data-count=${audit.counts[k]}>${k}: ${audit.counts[k]}</li>`)}
      </ul>
      ${
        audit.entries && audit.entries.length > 0
          ? html`
            <ul id="drift">
              ${audit.entries.map(
                (e) => html`<li data-kind=${e.kind} data-path=${e.path}>
                  <span class="kind">${e.kind}</span> <code>${e.path || '.'}</code> <span class="muted">${e.detail}</span>
                </li>`,
              )}
            </ul>
            ${audit.truncated ? html`<p class="muted">Only the first ${audit.entries.length} entries are shown.</p>` : null}
          `
          : null
      }
    </div>
  `;
}
