/**
 * One direction of a link with a fixed one-way delay, without the sockets: a
 * FIFO where each item is released `delayMs` after it went in. The delay is
 * the same for every item and time only moves forward, so release times are
 * in push order and nothing overtakes (TCP's bytes keep their order).
 */
export class DelayLine<T> {
  private items: Array<{ due: number; item: T }> = [];

  constructor(readonly delayMs: number) {
    if (!(delayMs >= 0)) throw new Error(`a one-way delay is 0 ms or more, not ${delayMs}`);
  }

  get length(): number {
    return this.items.length;
  }

  push(item: T, now: number): void {
    this.items.push({ due: now + this.delayMs, item });
  }

  /** The items due at `now` (pushed at least delayMs before it), oldest first; they leave the line. */
  take(now: number): T[] {
    let k = 0;
    while (k < this.items.length && (this.items[k] as { due: number }).due <= now) k++;
    return this.items.splice(0, k).map((x) => x.item);
  }

  /** ms from `now` until the oldest item is due (0 if it is), or null when the line is empty. */
  nextIn(now: number): number | null {
    const head = this.items[0];
    return head ? Math.max(0, head.due - now) : null;
  }
}
