import { type Campaign, type CampaignInput, makeCampaign } from '../../core/campaign';
import { type SqlClient, int } from './sqlClient';

export type AuditAction = 'create' | 'update' | 'delete' | 'import';

export interface AuditEntry {
  readonly seq: number;
  readonly campaignId: string;
  readonly action: AuditAction;
  readonly actor: string;
  readonly atMs: number;
  readonly oldValue: Campaign | null;
  readonly newValue: Campaign | null;
}

interface CampaignRow {
  definition: CampaignInput;
  deleted: boolean;
}

interface AuditRow {
  seq: unknown;
  campaign_id: string;
  action: AuditAction;
  actor: string;
  at: Date | string;
  old_value: CampaignInput | null;
  new_value: CampaignInput | null;
}

function sameDefinition(a: CampaignInput, b: Campaign): boolean {
  return JSON.stringify(makeCampaign(a)) === JSON.stringify(b);
}

/**
 * The campaign registry in PostgreSQL, the system of record. Each change writes its audit row
 * (who, when, old and new definition) in the same transaction as the change, so there is never
 * a change without its audit row or an audit row without its change. Deleted campaigns stay as
 * rows marked deleted: their history and audit still name them.
 */
export class CampaignRecords {
  constructor(private readonly db: SqlClient) {}

  /** Creates or replaces; returns what happened ('unchanged' writes no audit row). */
  async put(campaign: Campaign, actor: string, nowMs: number): Promise<AuditAction | 'unchanged'> {
    return this.db.transaction(async (tx) => {
      const at = new Date(nowMs).toISOString();
      const rows = await tx.query<CampaignRow>(
        'SELECT definition, deleted FROM campaigns WHERE id = $1 FOR UPDATE',
        [campaign.id],
      );
      const before = rows[0];
      const live = before !== undefined && !before.deleted ? before.definition : null;
      if (live !== null && sameDefinition(live, campaign)) return 'unchanged';
      const json = JSON.stringify(campaign);
      if (before === undefined) {
        await tx.query(
          'INSERT INTO campaigns (id, definition, created_at, updated_at) VALUES ($1, $2::jsonb, $3, $3)',
          [campaign.id, json, at],
        );
      } else {
        await tx.query(
          'UPDATE campaigns SET definition = $2::jsonb, deleted = false, updated_at = $3 WHERE id = $1',
          [campaign.id, json, at],
        );
      }
      const action: AuditAction = live === null ? 'create' : 'update';
      await tx.query(
        `INSERT INTO campaign_audit (campaign_id, action, actor, at, old_value, new_value)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`,
        [campaign.id, action, actor, at, live === null ? null : JSON.stringify(live), json],
      );
      return action;
    });
  }

  /** Marks the campaign deleted; false when there was no live campaign of that id. */
  async delete(id: string, actor: string, nowMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const at = new Date(nowMs).toISOString();
      const rows = await tx.query<CampaignRow>(
        'SELECT definition, deleted FROM campaigns WHERE id = $1 FOR UPDATE',
        [id],
      );
      const before = rows[0];
      if (before === undefined || before.deleted) return false;
      await tx.query('UPDATE campaigns SET deleted = true, updated_at = $2 WHERE id = $1', [id, at]);
      await tx.query(
        `INSERT INTO campaign_audit (campaign_id, action, actor, at, old_value, new_value)
         VALUES ($1, 'delete', $2, $3, $4::jsonb, NULL)`,
        [id, actor, at, JSON.stringify(before.definition)],
      );
      return true;
    });
  }

  async list(): Promise<Campaign[]> {
    const rows = await this.db.query<{ definition: CampaignInput }>(
      'SELECT definition FROM campaigns WHERE NOT deleted ORDER BY id',
    );
    return rows.map((r) => makeCampaign(r.definition));
  }

  async get(id: string): Promise<Campaign | null> {
    const rows = await this.db.query<{ definition: CampaignInput }>(
      'SELECT definition FROM campaigns WHERE id = $1 AND NOT deleted',
      [id],
    );
    return rows[0] === undefined ? null : makeCampaign(rows[0].definition);
  }

  /**
   * Adopts campaigns that exist only in the hot store (a Redis that predates the records layer),
   * with an 'import' audit row each. Returns how many were adopted.
   */
  async importMissing(campaigns: readonly Campaign[], actor: string, nowMs: number): Promise<number> {
    let adopted = 0;
    for (const c of campaigns) {
      const done = await this.db.transaction(async (tx) => {
        const at = new Date(nowMs).toISOString();
        const json = JSON.stringify(c);
        const ins = await tx.query(
          `INSERT INTO campaigns (id, definition, created_at, updated_at) VALUES ($1, $2::jsonb, $3, $3)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [c.id, json, at],
        );
        if (ins.length === 0) return false;
        await tx.query(
          `INSERT INTO campaign_audit (campaign_id, action, actor, at, old_value, new_value)
           VALUES ($1, 'import', $2, $3, NULL, $4::jsonb)`,
          [c.id, actor, at, json],
        );
        return true;
      });
      if (done) adopted++;
    }
    return adopted;
  }

  /** The campaign's changes, oldest first. */
  async audit(id: string, limit = 1000): Promise<AuditEntry[]> {
    const rows = await this.db.query<AuditRow>(
      `SELECT seq, campaign_id, action, actor, at, old_value, new_value FROM campaign_audit
        WHERE campaign_id = $1 ORDER BY seq LIMIT $2`,
      [id, limit],
    );
    return rows.map((r) => ({
      seq: int(r.seq),
      campaignId: r.campaign_id,
      action: r.action,
      actor: r.actor,
      atMs: new Date(r.at).getTime(),
      oldValue: r.old_value === null ? null : makeCampaign(r.old_value),
      newValue: r.new_value === null ? null : makeCampaign(r.new_value),
    }));
  }
}
