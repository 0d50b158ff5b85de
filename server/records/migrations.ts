/**
 * The schema, as numbered migrations applied in order at start (migrate.ts). Never edit one that
 * has shipped: add the next number. Kept in code rather than .sql files so the bundled server
 * (dist/server.mjs) carries them.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'campaign registry and its append-only audit',
    sql: `
CREATE TABLE campaigns (
  id          text PRIMARY KEY,
  definition  jsonb NOT NULL,
  deleted     boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE campaign_audit (
  seq          bigserial PRIMARY KEY,
  campaign_id  text NOT NULL,
  action       text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'import')),
  actor        text NOT NULL,
  at           timestamptz NOT NULL,
  old_value    jsonb,
  new_value    jsonb
);
CREATE INDEX campaign_audit_by_campaign ON campaign_audit (campaign_id, seq);

-- Append-only by construction, not by convention: an audit that can be edited proves nothing.
CREATE FUNCTION campaign_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'campaign_audit is append-only';
END
$$;
CREATE TRIGGER campaign_audit_no_change BEFORE UPDATE OR DELETE ON campaign_audit
  FOR EACH ROW EXECUTE FUNCTION campaign_audit_append_only();
`,
  },
  {
    version: 2,
    name: 'spend events, hour rows per campaign and instance, day rows, Redis generations',
    sql: `
-- Each Redis dataset gets a generation; spend is written under the generation of the Redis
-- that counted it, and a repair closes the lost generation (see redisGenerations.ts).
CREATE TABLE redis_generations (
  generation  text PRIMARY KEY,
  created_at  timestamptz NOT NULL,
  closed_at   timestamptz
);

-- One row per counted win notice: makes every history write idempotent by event id.
CREATE TABLE spend_events (
  campaign_id   text NOT NULL,
  event_id      text NOT NULL,
  day_key       text NOT NULL,
  hour_index    smallint NOT NULL,
  spend_micros  bigint NOT NULL CHECK (spend_micros >= 0),
  instance_id   text NOT NULL,
  generation    text NOT NULL,
  recorded_at   timestamptz NOT NULL,
  PRIMARY KEY (campaign_id, event_id)
);
CREATE INDEX spend_events_by_day ON spend_events (day_key);

-- Hour rows per instance: a repair re-seeds each instance's own share of a day in Redis.
CREATE TABLE campaign_hours (
  campaign_id   text NOT NULL,
  day_key       text NOT NULL CHECK (day_key ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
  hour_index    smallint NOT NULL CHECK (hour_index BETWEEN 0 AND 24),
  instance_id   text NOT NULL,
  spend_micros  bigint NOT NULL DEFAULT 0 CHECK (spend_micros >= 0),
  requests      bigint NOT NULL DEFAULT 0,
  allowed       bigint NOT NULL DEFAULT 0,
  wins          bigint NOT NULL DEFAULT 0,
  impressions   bigint NOT NULL DEFAULT 0,
  clicks        bigint NOT NULL DEFAULT 0,
  conversions   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, day_key, hour_index, instance_id)
);
CREATE INDEX campaign_hours_by_day ON campaign_hours (day_key);

CREATE VIEW campaign_days AS
  SELECT campaign_id, day_key,
         sum(spend_micros)::bigint AS spend_micros, sum(requests)::bigint AS requests,
         sum(allowed)::bigint AS allowed, sum(wins)::bigint AS wins,
         sum(impressions)::bigint AS impressions, sum(clicks)::bigint AS clicks,
         sum(conversions)::bigint AS conversions
    FROM campaign_hours GROUP BY campaign_id, day_key;
`,
  },
  {
    version: 3,
    name: 'delivery events (impressions, clicks, conversions) and their hour rows',
    sql: `
-- One row per counted event: makes the consumer's write idempotent by event id, so a batch that
-- is delivered again after a crash (acknowledged only after this commit) adds nothing.
CREATE TABLE ad_events (
  campaign_id  text NOT NULL,
  event_id     text NOT NULL,
  type         text NOT NULL CHECK (type IN ('impression', 'click', 'conversion')),
  day_key      text NOT NULL,
  hour_index   smallint NOT NULL,
  at           timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL,
  PRIMARY KEY (campaign_id, event_id)
);
CREATE INDEX ad_events_by_day ON ad_events (day_key);

-- Apart from campaign_hours on purpose: there, impressions count win notices (the spend path
-- writes one per win); here they count delivered impressions as the ad server reports them.
-- Summing both into one column would count every won impression twice.
CREATE TABLE event_hours (
  campaign_id  text NOT NULL,
  day_key      text NOT NULL CHECK (day_key ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
  hour_index   smallint NOT NULL CHECK (hour_index BETWEEN 0 AND 24),
  impressions  bigint NOT NULL DEFAULT 0,
  clicks       bigint NOT NULL DEFAULT 0,
  conversions  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, day_key, hour_index)
);
`,
  },
];
