import { type Static, Type } from '@sinclair/typebox';
import type { RecordingStats } from './trafficRecorder';

/** The `recording` part of GET /health, present when RECORD_DIR is set. */
export const RecordingHealthJson = Type.Object({
  dir: Type.String(),
  sample: Type.Number({ description: 'RECORD_SAMPLE: share of requests recorded.' }),
  rows_written: Type.Integer(),
  rows_dropped: Type.Integer({ description: 'Rows dropped because the in-memory buffer was full.' }),
  rows_lost: Type.Integer({ description: 'Rows lost because a write failed; see last_error.' }),
  rows_buffered: Type.Integer(),
  files_completed: Type.Integer(),
  last_error: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
  last_error_at: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
});

export function recordingHealthToJson(s: RecordingStats): Static<typeof RecordingHealthJson> {
  return {
    dir: s.dir,
    sample: s.sample,
    rows_written: s.rowsWritten,
    rows_dropped: s.rowsDropped,
    rows_lost: s.rowsLost,
    rows_buffered: s.rowsBuffered,
    files_completed: s.filesCompleted,
    last_error: s.lastError?.message ?? null,
    last_error_at: s.lastError === null ? null : new Date(s.lastError.atMs).toISOString(),
  };
}
