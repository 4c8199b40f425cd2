// A min-heap of items by deadline, so one timer serves everything in flight
// (the link emulator's frames) instead of one timer per item. Items with
// equal deadlines come out in the order they went in.
// Must never: read the clock; callers pass `now`.

export interface DeadlineQueue<T> {
  readonly size: number;
  push(deadline: number, item: T): void;
  /** The earliest deadline, or undefined when empty. */
  nextDeadline(): number | undefined;
  /** Removes and returns, in deadline order, every item due at or before `now`. */
  popDue(now: number): T[];
  clear(): void;
}

interface Entry<T> {
  deadline: number;
  seq: number;
  item: T;
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

export function createDeadlineQueue<T>(): DeadlineQueue<T> {
  let heap: Array<Entry<T>> = [];
  let seq = 0;

  const swap = (i: number, j: number): void => {
    const t = heap[i] as Entry<T>;
    heap[i] = heap[j] as Entry<T>;
    heap[j] = t;
  };

  const up = (start: number): void => {
    let i = start;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i] as Entry<T>, heap[p] as Entry<T>)) return;
      swap(i, p);
      i = p;
    }
  };

  const down = (start: number): void => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as Entry<T>, heap[m] as Entry<T>)) m = l;
      if (r < heap.length && before(heap[r] as Entry<T>, heap[m] as Entry<T>)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };

  return {
    get size() {
      return heap.length;
    },
    push(deadline, item) {
      heap.push({ deadline, seq: seq++, item });
      up(heap.length - 1);
    },
    nextDeadline() {
      return heap[0]?.deadline;
    },
    popDue(now) {
      const due: T[] = [];
      while (heap.length > 0 && (heap[0] as Entry<T>).deadline <= now) {
        due.push((heap[0] as Entry<T>).item);
        const last = heap.pop() as Entry<T>;
        if (heap.length > 0) {
          heap[0] = last;
          down(0);
        }
      }
      return due;
    },
    clear() {
      heap = [];
    },
  };
}
