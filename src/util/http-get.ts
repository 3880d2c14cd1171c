/**
 * A GET with fetch that is tried once more when the connection broke
 * before an answer (reset, or closed by the other side): a keep-alive
 * connection the server closed just as it was reused fails that way, and
 * HTTP lets a client repeat an idempotent request then (RFC 9112, 9.3.1).
 * A refused connection, a timeout or an HTTP error is not retried.
 */
export async function httpGet(
  url: string,
  init: { headers?: Record<string, string>; timeoutMs?: number } = {},
) {
  const once = () =>
    fetch(url, {
      headers: init.headers,
      signal: init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs),
    });
  try {
    return await once();
  } catch (e) {
    if (!brokenConnection(e)) throw e;
    return await once();
  }
}

const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

function brokenConnection(e: unknown): boolean {
  const code = (e as { cause?: { code?: string } })?.cause?.code;
  return code !== undefined && BROKEN.has(code);
}

/** A fetch failure in words: Node's "fetch failed" hides the reason in its cause. */
export function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return err.message;
}
