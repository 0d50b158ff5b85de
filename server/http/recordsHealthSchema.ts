import { Type } from '@sinclair/typebox';

/** The `records` field of GET /health: PostgreSQL and the hot store's generation, as this instance sees them. */
export const RecordsHealthJson = Type.Object({
  generation: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
  postgres_healthy: Type.Boolean(),
  history_queued: Type.Integer({ description: 'Spend records waiting for PostgreSQL (memory and spilled).' }),
  history_spilled: Type.Integer(),
  last_error: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
  data_loss_detected: Type.Integer({
    description: 'Times this instance found the hot store without its generation marker.',
  }),
  repairs_run: Type.Integer(),
  repairing: Type.Boolean(),
  last_data_loss_at: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
});
