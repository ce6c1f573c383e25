import type { Db } from "./db.js";

/** Ordered, append-only. Same SQL on PGlite and PostgreSQL. */
const MIGRATIONS: string[] = [
  `CREATE TABLE subscriptions (
     id text PRIMARY KEY,
     desired jsonb NOT NULL,
     generation integer NOT NULL DEFAULT 1,
     applied_generation integer NOT NULL DEFAULT 0,
     phase text NOT NULL DEFAULT 'pending',
     last_error text,
     outputs jsonb,
     token_hash text,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE events (
     id text PRIMARY KEY,
     subscription_id text NOT NULL,
     type text NOT NULL,
     occurred_at timestamptz NOT NULL,
     received_at timestamptz NOT NULL DEFAULT now(),
     body jsonb NOT NULL,
     outcome text NOT NULL,
     reason text
   );
   CREATE INDEX events_by_subscription ON events (subscription_id, occurred_at);
   CREATE TABLE operations (
     id bigserial PRIMARY KEY,
     subscription_id text NOT NULL,
     generation integer NOT NULL,
     kind text NOT NULL,
     event_id text NOT NULL,
     started_at timestamptz NOT NULL DEFAULT now(),
     finished_at timestamptz,
     result text NOT NULL DEFAULT 'running',
     error text,
     summary jsonb
   );
   CREATE INDEX operations_by_subscription ON operations (subscription_id, id);`,
  `CREATE TABLE billing_runs (
     id bigserial PRIMARY KEY,
     period text NOT NULL UNIQUE,
     prices_version text NOT NULL,
     currency text NOT NULL,
     invoice_count integer NOT NULL,
     total text NOT NULL,
     inputs jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE invoices (
     run_id bigint NOT NULL REFERENCES billing_runs (id),
     subscription_id text NOT NULL,
     total text NOT NULL,
     currency text NOT NULL,
     lines jsonb NOT NULL,
     PRIMARY KEY (run_id, subscription_id)
   );`,
  `ALTER TABLE billing_runs ADD COLUMN delivery jsonb;`,
  `CREATE TABLE drift (
     subscription_id text PRIMARY KEY,
     checked_at timestamptz NOT NULL DEFAULT now(),
     state text NOT NULL,
     differences jsonb NOT NULL DEFAULT '[]',
     fingerprint text,
     accepted_fingerprint text,
     accepted_at timestamptz,
     error text
   );
   ALTER TABLE subscriptions ADD COLUMN pending_note text;`,
  `ALTER TABLE operations ADD COLUMN owner text;
   CREATE INDEX subscriptions_pending ON subscriptions (updated_at) WHERE generation > applied_generation;`,
  // What the next operation must do besides applying the spec: a new password (operator rotation), and a
  // refresh before the diff (drift repair: without it Pulumi does not see what changed outside the stack).
  `ALTER TABLE subscriptions ADD COLUMN rotate_password boolean NOT NULL DEFAULT false,
     ADD COLUMN refresh_next boolean NOT NULL DEFAULT false;`,
  // Customers' tokens are derived from a key and this generation (nothing of them is stored); rows made
  // before keep generation 0 and the hash of their random token until an operator re-issues it.
  `ALTER TABLE subscriptions ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
   ALTER TABLE subscriptions ALTER COLUMN token_generation SET DEFAULT 1;`,
  // Cloudesire: notifications as received, a read wanted per subscription, and the outbox of calls back.
  `CREATE TABLE cloudesire_notifications (
     id bigserial PRIMARY KEY,
     entity text NOT NULL,
     entity_id text NOT NULL,
     type text NOT NULL,
     body jsonb NOT NULL,
     ignored text,
     received_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE cloudesire_subscriptions (
     id text PRIMARY KEY,
     wanted integer NOT NULL DEFAULT 1,
     synced integer NOT NULL DEFAULT 0,
     due_at timestamptz NOT NULL DEFAULT now(),
     attempts integer NOT NULL DEFAULT 0,
     deleted boolean NOT NULL DEFAULT false,
     reads integer NOT NULL DEFAULT 0,
     last_read jsonb,
     last_error text,
     reported jsonb NOT NULL DEFAULT '{}',
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX cloudesire_subscriptions_due ON cloudesire_subscriptions (due_at) WHERE wanted > synced;
   CREATE TABLE cloudesire_outbox (
     id bigserial PRIMARY KEY,
     subscription_id text NOT NULL,
     lane text NOT NULL,
     kind text NOT NULL,
     body jsonb NOT NULL,
     dedupe_key text,
     state text NOT NULL DEFAULT 'pending',
     attempts integer NOT NULL DEFAULT 0,
     next_at timestamptz NOT NULL DEFAULT now(),
     last_error text,
     created_at timestamptz NOT NULL DEFAULT now(),
     sent_at timestamptz
   );
   CREATE UNIQUE INDEX cloudesire_outbox_once ON cloudesire_outbox (subscription_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
   CREATE INDEX cloudesire_outbox_open ON cloudesire_outbox (subscription_id, lane, id) WHERE state NOT IN ('sent', 'skipped');`,
  // Pages of the list endpoints (issue 16): each filter's page is an index range read in key order
  // (`WHERE filter = $1 AND key > $2 ORDER BY key LIMIT n`), never a sort of the whole fleet.
  `CREATE INDEX subscriptions_by_phase ON subscriptions (phase, id);
   CREATE INDEX subscriptions_by_status ON subscriptions ((desired->>'status'), id);
   CREATE INDEX drift_by_state ON drift (state, subscription_id);
   CREATE INDEX cloudesire_outbox_dead ON cloudesire_outbox (id) WHERE state IN ('dead', 'held');`,
  // What each stack was last successfully updated with (domain/lifecycle.ts Declaration): the spec, the
  // program's version and their hash, which a rollout compares with what the service would declare now.
  `ALTER TABLE subscriptions ADD COLUMN declared_spec jsonb, ADD COLUMN declared_program text, ADD COLUMN declared_hash text;`,
  // Fleet rollouts: one row per rollout, one per stack it changes (its wave, what becomes of it).
  `CREATE TABLE rollouts (
     id bigserial PRIMARY KEY,
     state text NOT NULL,
     waves jsonb NOT NULL,
     wave_sizes jsonb NOT NULL,
     wave integer NOT NULL DEFAULT -1,
     max_failures integer NOT NULL,
     pause_seconds integer NOT NULL,
     pause_until timestamptz,
     program_version text NOT NULL,
     groups jsonb NOT NULL,
     reason text,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     finished_at timestamptz
   );
   CREATE UNIQUE INDEX rollouts_one_active ON rollouts ((true)) WHERE state IN ('running', 'pausing', 'halted');
   CREATE TABLE rollout_stacks (
     rollout_id bigint NOT NULL REFERENCES rollouts (id),
     subscription_id text NOT NULL,
     wave integer NOT NULL,
     changes text NOT NULL,
     state text NOT NULL DEFAULT 'waiting',
     generation integer,
     reason text,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (rollout_id, subscription_id)
   );
   CREATE INDEX rollout_stacks_by_wave ON rollout_stacks (rollout_id, wave, state);`,
  // The customer token generation an event's first answer could carry: its replays get none newer.
  `ALTER TABLE events ADD COLUMN token_generation integer;`,
  // Identical Cloudesire notifications are one row, counted (rows stored before have no digest).
  `ALTER TABLE cloudesire_notifications ADD COLUMN digest text, ADD COLUMN repeats integer NOT NULL DEFAULT 0, ADD COLUMN last_received_at timestamptz;
   CREATE UNIQUE INDEX cloudesire_notifications_by_digest ON cloudesire_notifications (digest);`,
  // Re-rating a billed period (issue 24): a period has one `bill` run and any number of `rerate` runs; an
  // invoice is versioned per (period, subscription), and a credit note cancels one version of it.
  `ALTER TABLE billing_runs ADD COLUMN kind text NOT NULL DEFAULT 'bill', ADD COLUMN changes jsonb;
   ALTER TABLE billing_runs DROP CONSTRAINT billing_runs_period_key;
   CREATE UNIQUE INDEX billing_runs_one_bill ON billing_runs (period) WHERE kind = 'bill';
   ALTER TABLE invoices ADD COLUMN kind text NOT NULL DEFAULT 'invoice', ADD COLUMN version integer NOT NULL DEFAULT 1, ADD COLUMN period text;
   UPDATE invoices i SET period = r.period FROM billing_runs r WHERE r.id = i.run_id;
   ALTER TABLE invoices ALTER COLUMN period SET NOT NULL;
   ALTER TABLE invoices DROP CONSTRAINT invoices_pkey, ADD PRIMARY KEY (run_id, subscription_id, kind);
   CREATE UNIQUE INDEX invoices_versions ON invoices (period, subscription_id, kind, version);`,
  // Fleet-wide schedules (drift sweep, rollout tick): the next run of each, claimed by one replica.
  // Billing deliveries as durable jobs on their run: waiting (with when to try next), delivered or dead.
  `CREATE TABLE fleet_schedules (
     name text PRIMARY KEY,
     due_at timestamptz NOT NULL,
     owner text NOT NULL,
     claimed_at timestamptz NOT NULL DEFAULT now(),
     runs bigint NOT NULL DEFAULT 1
   );
   ALTER TABLE billing_runs ADD COLUMN delivery_state text, ADD COLUMN delivery_attempts integer NOT NULL DEFAULT 0,
     ADD COLUMN delivery_next_at timestamptz;
   CREATE INDEX billing_runs_delivery_due ON billing_runs (delivery_next_at) WHERE delivery_state = 'waiting';`,
  // Named operators with roles (issue 23): tokens and console sessions kept as SHA-256 hashes only; a
  // revoked operator's row stays, so the audit trail's names stay unambiguous (a name is never reused).
  // The audit trail of operators' actions; marketplace events are read from their own tables beside it
  // (keyset pages by time, newest first: the indexes below).
  `CREATE TABLE operators (
     name text PRIMARY KEY,
     role text NOT NULL,
     token_hash text NOT NULL UNIQUE,
     created_at timestamptz NOT NULL DEFAULT now(),
     revoked_at timestamptz
   );
   CREATE TABLE operator_sessions (
     id_hash text PRIMARY KEY,
     token_hash text NOT NULL,
     created_at timestamptz NOT NULL,
     last_used_at timestamptz NOT NULL
   );
   CREATE INDEX operator_sessions_by_token ON operator_sessions (token_hash);
   CREATE TABLE audit (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT clock_timestamp(),
     actor text NOT NULL,
     action text NOT NULL,
     subscription_id text,
     result text NOT NULL
   );
   CREATE INDEX audit_by_at ON audit (at, id);
   CREATE INDEX audit_by_subscription ON audit (subscription_id, at, id);
   CREATE INDEX events_by_received ON events (received_at, id);
   CREATE INDEX events_by_subscription_received ON events (subscription_id, received_at, id);
   CREATE INDEX cloudesire_notifications_by_received ON cloudesire_notifications (received_at, id);
   CREATE INDEX cloudesire_notifications_by_entity ON cloudesire_notifications (entity_id, received_at, id);
   ALTER TABLE rollouts ADD COLUMN started_by text;`,
  // Issue 31: subscription records no rule of this version reads, set aside (named in /healthz and the
  // fleet view) instead of failing every list, billing run and job; as of the row's updated_at, so any
  // write to the row looks at it again.
  `CREATE TABLE unreadable_subscriptions (
     id text PRIMARY KEY,
     reason text NOT NULL,
     row_updated_at timestamptz NOT NULL,
     noticed_at timestamptz NOT NULL DEFAULT now()
   );
   -- Issue 31: who sent each event and sold each subscription (domain/event.ts Marketplace). Until now the
   -- events made from Cloudesire's reads were the only ones with ids "cloudesire-<id>-read-<n>" for a
   -- subscription Cloudesire syncs.
   ALTER TABLE events ADD COLUMN marketplace text NOT NULL DEFAULT 'generic';
   ALTER TABLE subscriptions ADD COLUMN marketplace text NOT NULL DEFAULT 'generic';
   UPDATE events SET marketplace = 'cloudesire'
     WHERE id LIKE 'cloudesire-%-read-%' AND subscription_id IN (SELECT id FROM cloudesire_subscriptions);
   UPDATE subscriptions SET marketplace = 'cloudesire'
     WHERE id IN (SELECT subscription_id FROM events WHERE marketplace = 'cloudesire');
   -- Issue 31: the password-reset link's generation per subscription (a reset through a link ends it).
   CREATE TABLE password_reset_links (
     subscription_id text PRIMARY KEY,
     generation integer NOT NULL,
     used_at timestamptz NOT NULL DEFAULT now()
   );`,
  // Issue 33: a run's invoices totalled per target and currency (domain/billing.ts TargetTotal), stored with
  // the run like its total; null for the runs stored before.
  `ALTER TABLE billing_runs ADD COLUMN target_totals jsonb;`,
];

/**
 * Applies the migrations not applied yet. Replicas starting together on one PostgreSQL take turns:
 * everything runs in one transaction behind a transaction-scoped advisory lock.
 */
export async function migrate(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('openstack-tenants:migrations', 0))");
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ version: number }>("SELECT version FROM schema_migrations")).map((r) => r.version));
    for (const [i, sql] of MIGRATIONS.entries()) {
      const version = i + 1;
      if (done.has(version)) continue;
      await tx.exec(sql);
      await tx.query("INSERT INTO schema_migrations (version) VALUES ($1)", [version]);
    }
  });
}
