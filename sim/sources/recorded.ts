import { closeSync, openSync, readSync } from 'node:fs';
import { DAY_MS, HOUR_MS } from '../../core/index';
import type { RecordedStreamSpec } from '../scenario';

export type { RecordedStreamSpec };
import type { BidRequest, BidSource, StreamFactory, StreamPlan } from './source';

const MINUTE_MS = 60_000;
const CHUNK_BYTES = 1 << 20;

export class RecordedStreamError extends Error {
  readonly code = 'SIM_ERR_BAD_RECORDING';
  constructor(path: string, line: number, message: string) {
    super(`${path}:${line}: ${message}`);
    this.name = 'RecordedStreamError';
  }
}

/** Reads a text file line by line in fixed chunks, synchronously: the hot loop never awaits. */
class LineReader {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private text = '';
  private pos = 0;
  private eof = false;
  lineNo = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  next(): string | null {
    for (;;) {
      const nl = this.text.indexOf('\n', this.pos);
      if (nl >= 0) {
        const line = this.text.slice(this.pos, nl);
        this.pos = nl + 1;
        this.lineNo++;
        return line.endsWith('\r') ? line.slice(0, -1) : line;
      }
      if (this.eof) {
        if (this.pos < this.text.length) {
          const line = this.text.slice(this.pos);
          this.pos = this.text.length;
          this.lineNo++;
          return line;
        }
        return null;
      }
      const n = readSync(this.fd, this.buf, 0, CHUNK_BYTES, null);
      if (n === 0) {
        this.eof = true;
        closeSync(this.fd);
      }
      // Chunks may split a multi-byte character only for non-ASCII files; recordings are numeric.
      this.text = this.text.slice(this.pos) + this.buf.toString('latin1', 0, n);
      this.pos = 0;
    }
  }

  close(): void {
    if (!this.eof) {
      this.eof = true;
      closeSync(this.fd);
    }
  }
}

interface Layout {
  price: number;
  click: number;
  pctr: number;
  hour: number;
  timeMs: number;
  width: number;
}

function layoutOf(spec: RecordedStreamSpec, headerLine: string | null, path: string): Layout {
  const names = headerLine === null ? [] : headerLine.split(spec.delimiter).map((s) => s.trim());
  const index = (key: string, col: number | string | undefined): number => {
    if (col === undefined) return -1;
    if (typeof col === 'number') return col;
    const i = names.indexOf(col);
    if (i < 0) throw new RecordedStreamError(path, 1, `column "${col}" (${key}) is not in the header`);
    return i;
  };
  const c = spec.columns;
  const l = {
    price: index('marketPrice', c.marketPrice),
    click: index('click', c.click),
    pctr: index('pctr', c.pctr),
    hour: index('hour', c.hour),
    timeMs: index('timeMs', c.timeMs),
    width: 0,
  };
  l.width = Math.max(l.price, l.click, l.pctr, l.hour, l.timeMs) + 1;
  return l;
}

interface Row {
  price: number;
  click: number;
  pctr: number;
  /** Absolute hour since the start (hour-of-day plus 24 per wrap), or -1 with a time column. */
  hour: number;
  timeMs: number;
}

function parseRow(
  fields: string[],
  l: Layout,
  spec: RecordedStreamSpec,
  path: string,
  lineNo: number,
  row: Row,
): void {
  if (fields.length < l.width)
    throw new RecordedStreamError(
      path,
      lineNo,
      `expected at least ${l.width} fields, found ${fields.length}`,
    );
  const num = (i: number, what: string): number => {
    const v = Number(fields[i]);
    if (!Number.isFinite(v) || fields[i]!.trim() === '')
      throw new RecordedStreamError(path, lineNo, `${what} "${fields[i]}" is not a number`);
    return v;
  };
  const price = num(l.price, 'market price');
  if (price < 0) throw new RecordedStreamError(path, lineNo, `market price ${price} is negative`);
  row.price = Math.round(price * spec.priceMicrosPerUnit);
  row.click = l.click >= 0 ? (num(l.click, 'click') > 0 ? 1 : 0) : -1;
  row.pctr = l.pctr >= 0 ? num(l.pctr, 'pctr') : 0;
  row.hour = l.hour >= 0 ? num(l.hour, 'hour') : -1;
  row.timeMs = l.timeMs >= 0 ? num(l.timeMs, 'timeMs') : -1;
}

interface Census {
  rows: number;
  /** Rows per absolute hour since the start. */
  perHour: number[];
  /** A systematic sample of market prices (every `stride`-th row), for planning. */
  prices: Float64Array;
  lastTimeMs: number;
}

/** One streaming pass before the run: rows per hour (to spread them in time) and a price sample. */
function census(spec: RecordedStreamSpec, path: string): Census {
  const reader = new LineReader(path);
  const header = spec.header ? reader.next() : null;
  const l = layoutOf(spec, header, path);
  const row: Row = { price: 0, click: -1, pctr: 0, hour: -1, timeMs: -1 };
  const perHour: number[] = [];
  let prices = new Float64Array(1 << 16);
  let kept = 0;
  let stride = 1;
  let rows = 0;
  let dayOffset = 0;
  let lastHourOfDay = -1;
  let lastTimeMs = -1;
  for (let line = reader.next(); line !== null; line = reader.next()) {
    if (line === '') continue;
    parseRow(line.split(spec.delimiter), l, spec, path, reader.lineNo, row);
    if (l.hour >= 0) {
      if (!(Number.isInteger(row.hour) && row.hour >= 0 && row.hour < 24))
        throw new RecordedStreamError(path, reader.lineNo, `hour ${row.hour} is not an integer 0..23`);
      if (row.hour < lastHourOfDay) dayOffset += 24;
      lastHourOfDay = row.hour;
      const h = dayOffset + row.hour;
      while (perHour.length <= h) perHour.push(0);
      perHour[h] = perHour[h]! + 1;
    } else if (l.timeMs >= 0) {
      if (row.timeMs < lastTimeMs)
        throw new RecordedStreamError(path, reader.lineNo, 'timeMs must never decrease');
      lastTimeMs = row.timeMs;
    }
    if (rows % stride === 0) {
      if (kept === prices.length) {
        if (prices.length < 1 << 20) {
          const bigger = new Float64Array(prices.length * 2);
          bigger.set(prices);
          prices = bigger;
        } else {
          for (let i = 0; i < kept / 2; i++) prices[i] = prices[2 * i]!;
          kept = Math.floor(kept / 2);
          stride *= 2;
        }
      }
      if (rows % stride === 0) prices[kept++] = row.price;
    }
    rows++;
  }
  if (rows === 0) throw new RecordedStreamError(path, 1, 'the recording has no rows');
  return { rows, perHour, prices: prices.slice(0, kept), lastTimeMs };
}

class RecordedSource implements BidSource {
  readonly req: BidRequest = { timeMs: 0, marketPriceCpmMicros: 0, pctr: 0, click: -1 };
  private readonly reader: LineReader;
  private readonly layout: Layout;
  private readonly row: Row = { price: 0, click: -1, pctr: 0, hour: -1, timeMs: -1 };
  private dayOffset = 0;
  private lastHourOfDay = -1;
  private indexInHour = 0;
  private rowIndex = -1;

  constructor(
    private readonly spec: RecordedStreamSpec,
    private readonly path: string,
    private readonly startMs: number,
    private readonly endMs: number,
    private readonly perHour: readonly number[],
  ) {
    this.reader = new LineReader(path);
    const header = spec.header ? this.reader.next() : null;
    this.layout = layoutOf(spec, header, path);
  }

  next(): boolean {
    let line = this.reader.next();
    while (line === '') line = this.reader.next();
    if (line === null) return false;
    this.rowIndex++;
    const row = this.row;
    parseRow(line.split(this.spec.delimiter), this.layout, this.spec, this.path, this.reader.lineNo, row);
    const req = this.req;
    if (this.layout.hour >= 0) {
      if (row.hour !== this.lastHourOfDay) {
        if (row.hour < this.lastHourOfDay) this.dayOffset += 24;
        this.lastHourOfDay = row.hour;
        this.indexInHour = 0;
      }
      const h = this.dayOffset + row.hour;
      // The log has no timestamps inside an hour: its rows are spread evenly over it.
      req.timeMs = this.startMs + h * HOUR_MS + ((this.indexInHour + 0.5) / this.perHour[h]!) * HOUR_MS;
      this.indexInHour++;
    } else if (this.layout.timeMs >= 0) {
      req.timeMs = this.startMs + row.timeMs;
    } else {
      req.timeMs = this.startMs + ((this.rowIndex + 0.5) / this.perHour[0]!) * DAY_MS;
    }
    if (req.timeMs >= this.endMs) {
      this.reader.close();
      return false;
    }
    req.marketPriceCpmMicros = row.price;
    req.pctr = row.pctr;
    req.click = row.click;
    return true;
  }

  fill(): void {}
}

export function recordedStream(
  spec: RecordedStreamSpec,
  absPath: string,
  startMs: number,
  days: number,
): StreamFactory {
  const c = census(spec, absPath);
  const endMs = startMs + days * DAY_MS;
  const minutes = days * 1440;
  const perMinute = new Float64Array(minutes);
  let perHour = c.perHour;
  if (spec.columns.hour !== undefined) {
    c.perHour.forEach((n, h) => {
      for (let m = h * 60; m < (h + 1) * 60 && m < minutes; m++) perMinute[m] = n / 60;
    });
  } else if (spec.columns.timeMs === undefined) {
    perHour = [c.rows];
    for (let m = 0; m < 1440; m++) perMinute[m] = c.rows / 1440;
  } else {
    // Without a census by minute, assume the rows spread evenly up to the last timestamp.
    const span = Math.max(1, Math.ceil(c.lastTimeMs / MINUTE_MS));
    for (let m = 0; m < Math.min(span, minutes); m++) perMinute[m] = c.rows / span;
  }
  const prices = Float64Array.from(c.prices).sort();
  const prefix = new Float64Array(prices.length + 1);
  for (let i = 0; i < prices.length; i++) prefix[i + 1] = prefix[i]! + prices[i]!;
  const upTo = (bid: number): number => {
    let lo = 0;
    let hi = prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prices[mid]! <= bid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let expected = 0;
  for (const v of perMinute) expected += v;
  const plan: StreamPlan = {
    startMs,
    endMs,
    expectedRequests: expected,
    expectedPerMinute: perMinute,
    expectedCostPerRequestMicros: (bid, pricing) => {
      const k = upTo(bid);
      const paid = pricing === 'first' ? k * bid : prefix[k]!;
      return paid / 1000 / prices.length;
    },
    surges: [],
  };
  return { plan, open: () => new RecordedSource(spec, absPath, startMs, endMs, perHour) };
}
