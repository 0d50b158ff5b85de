import { PacerError } from '../errors';

/** GET /analytics was asked for a range it cannot report. */
export class InvalidRangeError extends PacerError {
  constructor(message: string) {
    super('PACER_ERR_INVALID_RANGE', message);
    this.name = 'InvalidRangeError';
  }
}

/** An event's at_ms lies outside the window the pipeline counts (too old to deduplicate, or in the future). */
export class EventTimeError extends PacerError {
  constructor(eventId: string, atMs: number, earliestMs: number, latestMs: number) {
    super(
      'PACER_ERR_EVENT_TIME',
      `event "${eventId}" has at_ms ${atMs}, outside ${new Date(earliestMs).toISOString()}..${new Date(latestMs).toISOString()}: events older than the dedup window cannot be counted exactly once, and future ones are clock errors. Fix the sender's clock or drop the event.`,
    );
    this.name = 'EventTimeError';
  }
}
