import type { AlertMessage } from '../../src/monitor/index.js';

/** A firing `down` alert of a target whose names are Chinese, as the monitor sends it; `detail` ends its message. */
export function downAlert(firedAt: number, detail = 'connection refused'): AlertMessage {
  return {
    event: 'firing',
    text: '[critical] down: target 网站/主站 has been down for 61 s',
    incident: {
      id: 'down:网站/主站',
      kind: 'down',
      severity: 'critical',
      source: '网站',
      target: '主站',
      message: `target 网站/主站 has been down for 61 s: ${detail}`,
      firedAt,
      resolvedAt: null,
    },
    host: 'mirror-1',
    syncward: '0.1.0',
  };
}
