import { z } from "zod";
import { UnreadableRecord } from "../domain/errors.js";
import { foreignEvent, Marketplace, type MarketplaceEvent } from "../domain/event.js";
import { foldEvent, type SubscriptionStatus } from "../domain/subscription.js";
import {
  BEGUN,
  eventApplied,
  OperationRecord,
  operationEnded,
  PARKED_PHASES,
  reapplyRequested,
  subscriptionCreated,
  SubscriptionRecord,
  type Declaration,
  type Lifecycle,
  type OperationKind,
  type OperationOutcome,
  type Phase,
  type ReapplyRequest,
  waitingForConfiguration,
} from "../domain/lifecycle.js";
import type { BegunOperation, DeclarationSource, Lane, ReadyDeclaration, SubscriptionLedger } from "../provisioning/ports.js";
import type { Db } from "./db.js";
import { isoUtc, jsonColumn, pageOf, readPage, whereOf, type Page } from "./sql.js";
import { PasswordResets } from "./password-resets.js";
import { NOT_SET_ASIDE, readRecord, UnreadableSubscriptions, type UnreadableSubscription } from "./unreadable.js";

export type EventIntake =
  | {
      outcome: "duplicate"; original: "applied" | "stale" | "rejected"; reason: string | null; subscription: SubscriptionRecord | null;
      /** The subscription's token generation when the event was first stored (null: stored before this was recorded). */
      firstTokenGeneration: number | null;
    }
  | { outcome: "applied"; changed: boolean; created: boolean; subscription: SubscriptionRecord }
  | { outcome: "stale" | "rejected"; reason: string; subscription: SubscriptionRecord | null; /** The other marketplace's id or subscription: nothing stored. */ foreign?: true };

const SUB_COLUMNS = `id, desired, generation, applied_generation AS "appliedGeneration", phase,
  last_error AS "lastError", outputs, token_hash AS "tokenHash", token_generation AS "tokenGeneration", pending_note AS "pendingNote",
  rotate_password AS "rotatePassword", refresh_next AS "refreshNext",
  ${isoUtc("created_at", "createdAt")}, ${isoUtc("updated_at", "updatedAt")}`;
const OP_COLUMNS = `id, kind, event_id AS "eventId", generation,
  ${isoUtc("started_at", "startedAt")}, ${isoUtc("finished_at", "finishedAt")}, result, error`;

/**
 * domain/lifecycle.ts `needsOperation` as a filter (the scan and the queue depth count rows, they do not
 * read them): behind its desired state and not parked.
 */
const NEEDS_OPERATION = `generation > applied_generation AND phase NOT IN (${PARKED_PHASES.map((p) => `'${p}'`).join(", ")})`;
/** What the scan queues: needs an operation and is not set aside as unreadable (its job could only fail). */
const SCANNED = `${NEEDS_OPERATION} AND ${NOT_SET_ASIDE}`;

const DeclaredSpecRow = z.object({ spec: jsonColumn(z.unknown()) });
/** One stored record; one this version cannot read is an UnreadableRecord (a 409 naming it), never a bare parse error. */
const parseSub = (row: unknown): SubscriptionRecord => {
  const read = readRecord(SubscriptionRecord, row);
  if (read instanceof UnreadableRecord) throw read;
  return read;
};

/**
 * Writes what the lifecycle decided (the columns of `Lifecycle` but the desired state, which only the
 * intake writes) to subscription $1, returning the row; its values are parameters $n.. (`lifecycleParams`).
 */
const UPDATE_LIFECYCLE = (n: number, alsoSet = "") =>
  `UPDATE subscriptions SET generation = $${n}, applied_generation = $${n + 1}, phase = $${n + 2}, last_error = $${n + 3},
     outputs = $${n + 4}::jsonb, pending_note = $${n + 5}, rotate_password = $${n + 6}, refresh_next = $${n + 7}, updated_at = now()${alsoSet}
   WHERE id = $1 RETURNING ${SUB_COLUMNS}`;
/**
 * The stack's declaration (domain/lifecycle.ts Declaration) as an outcome decided it, in parameters
 * $n (write it?), $n+1 spec, $n+2 program version, $n+3 hash: written on a success, cleared by a destroy.
 */
const SET_DECLARATION = (n: number) =>
  `, declared_spec = CASE WHEN $${n}::boolean THEN $${n + 1}::jsonb ELSE declared_spec END,
     declared_program = CASE WHEN $${n}::boolean THEN $${n + 2}::text ELSE declared_program END,
     declared_hash = CASE WHEN $${n}::boolean THEN $${n + 3}::text ELSE declared_hash END`;
const declarationParams = (d: Declaration | null | undefined): unknown[] =>
  d === undefined ? [false, null, null, null] : [true, d ? JSON.stringify(d.spec) : null, d?.programVersion ?? null, d?.hash ?? null];
const lifecycleParams = (s: Lifecycle): unknown[] => [
  s.generation, s.appliedGeneration, s.phase, s.lastError, s.outputs ? JSON.stringify(s.outputs) : null, s.pendingNote, s.rotatePassword, s.refreshNext,
];
const IntakeRead = z.object({
  now: z.string(),
  known: jsonColumn(z.array(z.object({
    id: z.string(), outcome: z.enum(["applied", "stale", "rejected"]), reason: z.string().nullable(), subscription_id: z.string(), token_generation: z.number().nullable(), marketplace: Marketplace,
  }))),
  subs: jsonColumn(z.array(z.unknown())),
  /** Who sold each subscription of the batch that exists. */
  owners: jsonColumn(z.record(z.string(), Marketplace)),
});

const ReadyRow = z.object({
  id: z.string(),
  desired: jsonColumn(SubscriptionRecord.shape.desired),
  spec: jsonColumn(z.unknown()),
  programVersion: z.string().nullable(),
  hash: z.string().nullable(),
});

const ClosedOperations = jsonColumn(z.array(z.object({ id: z.coerce.number(), owner: z.string().nullable() })));

/** One event to take in. */
export interface IntakeItem {
  event: MarketplaceEvent;
  /** Who sent it (the generic webhook unless said): it may touch only its own event ids and subscriptions. */
  marketplace?: Marketplace;
}

/** Queues the jobs of subscriptions left pending, inside the intake's transaction. */
export type OnPending = (tx: Db, subscriptionIds: string[]) => Promise<void>;

/**
 * Told of every recorded outcome of a stack operation, inside the transaction that records it: what a
 * marketplace must hear about it (Cloudesire's report-back) goes to an outbox with it, or not at all.
 */
/** `passwordRotated`: the operation that succeeded gave the tenant's user a new password (an operator's rotation). */
export type OutcomeHook = (tx: Db, outcome: { result: "succeeded" | "failed"; subscription: SubscriptionRecord; reason?: string; passwordRotated?: boolean }) => Promise<void>;
/** Called in the transaction that re-issues a subscription's customer token (what derives from it must follow). */
export type TokenHook = (tx: Db, subscription: SubscriptionRecord) => Promise<void>;

/** Durable state of subscriptions: the event inbox, the desired state, and operations on stacks. */
export class SubscriptionStore implements SubscriptionLedger, DeclarationSource {
  private readonly setAside: UnreadableSubscriptions;
  /** The customers' password-reset link generations. */
  readonly resets: PasswordResets;

  constructor(
    private readonly db: Db,
    private readonly hooks: {
      onOutcome?: OutcomeHook;
      onTokenReissued?: TokenHook;
      /** Told once when a record is set aside as unreadable (the service logs it for operators). */
      onUnreadable?: (u: { subscription: string; reason: string }) => void;
    } = {},
  ) {
    this.setAside = new UnreadableSubscriptions(db, hooks.onUnreadable);
    this.resets = new PasswordResets(db);
  }

  /** The readable records of `rows`; the others are set aside (named in /healthz), not a failure of the whole read. */
  private async readable(rows: readonly unknown[]): Promise<SubscriptionRecord[]> {
    const records: SubscriptionRecord[] = [];
    for (const row of rows) {
      const read = readRecord(SubscriptionRecord, row);
      if (read instanceof UnreadableRecord) await this.setAside.isolate(this.db, read);
      else records.push(read);
    }
    return records;
  }

  /** Records set aside because this version cannot read them, each read again first (one that reads now is forgotten). */
  unreadable(): Promise<UnreadableSubscription[]> {
    return this.setAside.list(async (id) => {
      const [row] = await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = $1`, [id]);
      return row !== undefined && readRecord(SubscriptionRecord, row) instanceof UnreadableRecord;
    });
  }

  /**
   * Stores the event and folds it into the subscription's desired state, in one transaction: once this
   * returns, the event survives a crash, and a duplicate id never applies twice.
   */
  async intake(event: MarketplaceEvent, onPending?: OnPending, marketplace: Marketplace = "generic"): Promise<EventIntake> {
    const [result] = await this.intakeBatch([{ event, marketplace }], onPending);
    if (!result) throw new Error("intakeBatch returned no result");
    return result;
  }

  /**
   * Group commit: stores and folds several events in one transaction, in the order given, with the same
   * results as `intake` called for each in turn. Three statements whatever the batch size (one read, one
   * write of events and subscriptions, one of jobs), which is what makes a burst of webhooks cheap on the
   * embedded store. `onPending` gets every subscription left pending, to queue its job in the same
   * transaction.
   */
  async intakeBatch(items: readonly IntakeItem[], onPending?: OnPending): Promise<EventIntake[]> {
    if (items.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const subIds = [...new Set(items.map((i) => i.event.subscription.id))];
      // Events of one subscription are folded one at a time across replicas (two first events racing
      // would otherwise both create it): transaction-scoped locks, taken in one order (no deadlock).
      await tx.query(
        `SELECT pg_advisory_xact_lock(hashtextextended(k, 1)) FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) AS o`,
        [subIds.map((id) => `subscription:${id}`)],
      );
      const firstOf = new Map<string, number>();
      for (const [i, it] of items.entries()) if (!firstOf.has(it.event.id)) firstOf.set(it.event.id, i);
      const read = await this.readForIntake(tx, [...firstOf.keys()], subIds);
      const current = read.subscriptions;
      const earlier = read.known;

      // The fold, in order, in memory; each result carries the subscription as it was after its event.
      // With the token generation the event's answer could carry: a replay never gets a newer one (api/app.ts).
      const outcomes = new Map<string, { outcome: "applied" | "stale" | "rejected"; reason: string | null; gen: number | null }>();
      const sentBy = new Map<string, Marketplace>();
      const touched = new Set<string>();
      const owners = new Map(Object.entries(read.owners));
      const results = items.map((it, i): EventIntake => {
        const { event } = it;
        const marketplace = it.marketplace ?? "generic";
        // Neither marketplace may take the other's event ids or touch its subscriptions: refused, not stored.
        const foreign = foreignEvent(marketplace, event, { event: earlier.get(event.id)?.marketplace ?? sentBy.get(event.id), subscription: owners.get(event.subscription.id) });
        if (foreign) return { outcome: "rejected", reason: foreign, subscription: null, foreign: true };
        if (!owners.has(event.subscription.id)) owners.set(event.subscription.id, marketplace);
        if (!sentBy.has(event.id)) sentBy.set(event.id, marketplace);
        if (firstOf.get(event.id) !== i || earlier.has(event.id)) {
          // A re-delivery: answered with what the event became the first time.
          const prev = outcomes.get(event.id) ?? earlier.get(event.id);
          const subId = earlier.get(event.id)?.subscription_id ?? event.subscription.id;
          const firstTokenGeneration = outcomes.get(event.id)?.gen ?? earlier.get(event.id)?.token_generation ?? null;
          return { outcome: "duplicate", original: prev?.outcome ?? "applied", reason: prev?.reason ?? null, subscription: current.get(subId) ?? null, firstTokenGeneration };
        }
        const before = current.get(event.subscription.id) ?? null;
        const folded = foldEvent(before?.desired ?? null, event);
        if (folded.outcome !== "applied") {
          outcomes.set(event.id, { outcome: folded.outcome, reason: folded.reason, gen: before?.tokenGeneration ?? null });
          return { outcome: folded.outcome, reason: folded.reason, subscription: before };
        }
        touched.add(event.subscription.id);
        const after = before ? { ...eventApplied(before, folded), updatedAt: read.now } : subscriptionCreated(folded.state, read.now);
        outcomes.set(event.id, { outcome: "applied", reason: null, gen: after.tokenGeneration });
        current.set(after.id, after);
        return { outcome: "applied", changed: folded.changed, created: !before, subscription: after };
      });

      const fresh = [...outcomes].map(([id, o]) => ({ id, o, e: items[firstOf.get(id)!]!.event }));
      // Events (with what they became) and subscriptions (as folded) in one statement.
      const [written] = await tx.query<{ stored: number | string }>(
        `WITH e AS (
           INSERT INTO events (id, subscription_id, type, occurred_at, body, outcome, reason, token_generation, marketplace)
           SELECT id, sub, type, at, body, outcome, reason, gen, mp
           FROM jsonb_to_recordset($1::jsonb) AS x(id text, sub text, type text, at timestamptz, body jsonb, outcome text, reason text, gen integer, mp text)
           ON CONFLICT (id) DO NOTHING RETURNING 1
         ), s AS (
           INSERT INTO subscriptions (id, desired, generation, phase, marketplace)
           SELECT sid, state, gen, ph, mp FROM jsonb_to_recordset($2::jsonb) AS x(sid text, state jsonb, gen integer, ph text, mp text)
           ON CONFLICT (id) DO UPDATE SET desired = EXCLUDED.desired, generation = EXCLUDED.generation, phase = EXCLUDED.phase, updated_at = now()
         )
         SELECT count(*) AS stored FROM e`,
        [
          JSON.stringify(fresh.map(({ id, o, e }) => ({ id, sub: e.subscription.id, type: e.type, at: e.occurredAt, body: e, ...o, mp: sentBy.get(id) }))),
          JSON.stringify([...touched].map((id) => {
            const sub = current.get(id)!;
            return { sid: id, state: sub.desired, gen: sub.generation, ph: sub.phase, mp: owners.get(id) };
          })),
        ],
      );
      // Only an id reused for another subscription, stored by another replica since our read, gets here:
      // the transaction is undone (nothing of this batch is kept), and the webhook's sender retries.
      if (Number(written?.stored) !== fresh.length) throw new Error("an event of this batch was stored concurrently by another replica; nothing was taken, retry");
      // The jobs that apply them are stored in the same transaction: an accepted event always has one.
      const pending = [...touched].filter((id) => current.get(id)?.phase === "pending");
      if (pending.length > 0 && onPending) await onPending(tx, pending);
      return results;
    });
  }

  /**
   * What a batch needs before it folds, in one statement: which of its events are already stored (and
   * what they became), its subscriptions (locked for the transaction), and the transaction's clock.
   */
  private async readForIntake(tx: Db, eventIds: string[], subIds: string[]) {
    const [row] = await tx.query<{ now: string; known: unknown; subs: unknown; owners: unknown }>(
      `SELECT ${isoUtc("now()", "now")},
         (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'outcome', outcome, 'reason', reason, 'subscription_id', subscription_id, 'token_generation', token_generation, 'marketplace', marketplace)), '[]')
            FROM events WHERE id = ANY($1::text[])) AS known,
         (SELECT coalesce(jsonb_object_agg(id, marketplace), '{}') FROM subscriptions WHERE id = ANY($2::text[])) AS owners,
         (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]')
            FROM (SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = ANY($2::text[]) FOR UPDATE) AS s) AS subs`,
      [eventIds, subIds],
    );
    const parsed = IntakeRead.parse(row);
    const subscriptions = new Map(parsed.subs.map(parseSub).map((sub) => [sub.id, sub]));
    // A duplicate names the subscription its event was first stored for: the same one, unless the id was reused.
    const elsewhere = parsed.known.map((k) => k.subscription_id).filter((id) => !subscriptions.has(id));
    if (elsewhere.length > 0) {
      for (const r of await tx.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = ANY($1::text[])`, [elsewhere])) {
        const sub = parseSub(r);
        subscriptions.set(sub.id, sub);
      }
    }
    return { now: parsed.now, known: new Map(parsed.known.map((k) => [k.id, k])), subscriptions, owners: parsed.owners };
  }

  async get(id: string): Promise<SubscriptionRecord | null> {
    const [row] = await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = $1`, [id]);
    if (!row) return null;
    const read = readRecord(SubscriptionRecord, row);
    if (read instanceof UnreadableRecord) {
      await this.setAside.isolate(this.db, read);
      throw read;
    }
    return read;
  }

  async list(filter: { phase?: Phase | undefined } = {}): Promise<SubscriptionRecord[]> {
    const rows = filter.phase
      ? await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE phase = $1 ORDER BY id`, [filter.phase])
      : await this.db.query(`SELECT ${SUB_COLUMNS} FROM subscriptions ORDER BY id`);
    return this.readable(rows);
  }

  /**
   * A page of subscriptions by id, after `after` (keyset: `id > $after ORDER BY id LIMIT limit + 1`, read
   * through subscriptions_by_phase / subscriptions_by_status when filtered).
   */
  /** `search`: part of the id, or of the customer's id, name or email (any case). */
  /** `target`: only one target's subscriptions; null, the default target's (their plans name none). */
  async page(o: { after?: string | undefined; limit: number; phase?: Phase | undefined; status?: SubscriptionStatus | undefined; search?: string | undefined; target?: string | null | undefined }): Promise<Page<SubscriptionRecord, string>> {
    const params: unknown[] = [];
    const like = o.search ? `%${o.search.replace(/[\\%_]/g, (m) => `\\${m}`)}%` : undefined;
    const where = whereOf(params, [
      o.after === undefined ? undefined : ["id > ?", o.after],
      o.phase ? ["phase = ?", o.phase] : undefined,
      o.status ? ["desired->>'status' = ?", o.status] : undefined,
      o.target === undefined ? undefined : o.target === null ? ["desired->'plan'->>'target' IS NULL"] : ["desired->'plan'->>'target' = ?", o.target],
      like === undefined
        ? undefined
        : ["(id ILIKE ? OR desired->'customer'->>'id' ILIKE ? OR desired->'customer'->>'name' ILIKE ? OR desired->'customer'->>'email' ILIKE ?)", like, like, like, like],
    ]);
    const rows = await readPage<{ id: string }>(this.db, `SELECT ${SUB_COLUMNS} FROM subscriptions ${where} ORDER BY id LIMIT $${params.push(o.limit + 1)}`, params);
    const page = pageOf(rows, o.limit, (r) => r, (r) => r.id);
    return { items: await this.readable(page.items), next: page.next };
  }

  /** Subscriptions that need an operation (behind and not parked), oldest change first. */
  async pendingIds(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(`SELECT id FROM subscriptions WHERE ${SCANNED} ORDER BY updated_at, id`);
    return rows.map((r) => r.id);
  }

  /**
   * `pendingIds` by lane: a note pending (operator retry, drift repair, rotation, rollout) is bulk work;
   * everything else a subscription waits for came from its marketplace.
   */
  async pendingByLane(): Promise<Record<Lane, string[]>> {
    const rows = await this.db.query<{ id: string; bulk: boolean }>(
      `SELECT id, pending_note IS NOT NULL AS bulk FROM subscriptions WHERE ${SCANNED} ORDER BY updated_at, id`,
    );
    return { customer: rows.filter((r) => !r.bulk).map((r) => r.id), bulk: rows.filter((r) => r.bulk).map((r) => r.id) };
  }

  /**
   * Records the start of an operation by `owner` (host:pid:instance). Returns its id and, if the
   * previous operation of this subscription never finished (its process died), that one: its stack
   * may still carry the dead process's lock.
   */
  async beginOperation(id: string, generation: number, kind: OperationKind, eventId: string, owner: string): Promise<BegunOperation> {
    // One statement (its parts see one snapshot, so the new operation is not among those closed). What
    // a begin changes does not depend on the row (domain/lifecycle.ts BEGUN), so it is written unread.
    const [row] = await this.db.query<{ id: string | number; closed: unknown }>(
      `WITH closed AS (
         -- An operation left 'running' by a crash is closed as interrupted: the new one supersedes it.
         UPDATE operations SET result = 'failed', error = 'interrupted (service stopped during the operation)', finished_at = now()
         WHERE subscription_id = $1 AND result = 'running' RETURNING id, owner
       ), sub AS (
         UPDATE subscriptions SET phase = $6, pending_note = $7, updated_at = now() WHERE id = $1
       ), op AS (
         INSERT INTO operations (subscription_id, generation, kind, event_id, owner) VALUES ($1, $2, $3, $4, $5) RETURNING id
       )
       SELECT (SELECT id FROM op) AS id,
         (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'owner', owner) ORDER BY id DESC), '[]') FROM closed) AS closed`,
      [id, generation, kind, eventId, owner, BEGUN.phase, BEGUN.pendingNote],
    );
    const closed = ClosedOperations.parse(row?.closed);
    const last = closed[0];
    return { id: Number(row?.id), interrupted: last ? { id: Number(last.id), owner: last.owner } : null };
  }

  /**
   * Records how the operation `op` ended, in one transaction: the subscription is read under its row lock
   * (an event or an operator may have changed it during the operation), the lifecycle decides, and the
   * subscription, the operation row, the drift finding and the outcome hook's outbox are written together.
   * Returns the subscription as it now is (its desired state may have moved on meanwhile).
   */
  async recordOutcome(op: { id: number; subscription: string; generation: number }, outcome: OperationOutcome): Promise<SubscriptionRecord | null> {
    return this.db.transaction(async (tx) => {
      const current = await this.lockedForUpdate(tx, op.subscription);
      if (!current) return null;
      const decided = operationEnded(current, op.generation, outcome);
      const summary = outcome.result === "succeeded" ? JSON.stringify(outcome.summary) : null;
      const [row] = await tx.query(
        `WITH op AS (
           UPDATE operations SET result = $2, error = $3, finished_at = now(), summary = COALESCE($4::jsonb, summary) WHERE id = $5
         ), drift AS (
           DELETE FROM drift WHERE subscription_id = $1 AND $6::boolean
         )
         ${UPDATE_LIFECYCLE(7, SET_DECLARATION(15))}`,
        [
          op.subscription, decided.operation.result, decided.operation.error, summary, op.id, decided.dropDrift,
          ...lifecycleParams(decided.next), ...declarationParams(decided.declaration),
        ],
      );
      const sub = parseSub(row);
      const onOutcome = this.hooks.onOutcome;
      if (decided.report && onOutcome) {
        // The requests an operation carried are given with its outcome; none given: all those pending (lifecycle.ts).
        const rotated = outcome.result === "succeeded" && (outcome.carried?.rotatePassword ?? current.rotatePassword);
        await onOutcome(tx, decided.report === "failed" ? { result: "failed", subscription: sub, reason: decided.operation.error ?? "" } : { result: "succeeded", subscription: sub, passwordRotated: rotated });
      }
      return sub;
    });
  }

  /**
   * Operator retry, drift repair or password rotation: apply the desired state again; `note` names why in
   * the stack history; `refresh` and `rotatePassword` say what the next operation does besides; `inTx`
   * writes what goes with the request (the audit trail's record of it) in the same transaction.
   */
  async retry(id: string, note: string, also: Omit<ReapplyRequest, "note"> = {}, inTx?: (tx: Db) => Promise<void>): Promise<SubscriptionRecord | null> {
    return this.db.transaction(async (tx) => {
      const current = await this.lockedForUpdate(tx, id);
      if (!current) return null;
      const [row] = await tx.query(UPDATE_LIFECYCLE(2), [id, ...lifecycleParams(reapplyRequested(current, { note, ...also }))]);
      await inTx?.(tx);
      return parseSub(row);
    });
  }

  async everOperated(id: string): Promise<boolean> {
    const rows = await this.db.query("SELECT 1 FROM operations WHERE subscription_id = $1 LIMIT 1", [id]);
    return rows.length > 0;
  }

  async waitForConfiguration(id: string, missing: readonly string[], what?: string): Promise<SubscriptionRecord | null> {
    return this.db.transaction(async (tx) => {
      const current = await this.lockedForUpdate(tx, id);
      // Only what still waits for its operation: an event or an outcome written meanwhile decides instead.
      if (!current || current.phase !== "pending") return current;
      const [row] = await tx.query(UPDATE_LIFECYCLE(2), [id, ...lifecycleParams(waitingForConfiguration(current, missing, what))]);
      return parseSub(row);
    });
  }

  async resumeWaiting(): Promise<Record<Lane, string[]>> {
    // configurationReady (domain/lifecycle.ts) over every waiting row, in one statement.
    const rows = await this.db.query<{ id: string; bulk: boolean }>(
      `UPDATE subscriptions SET phase = 'pending', last_error = NULL, updated_at = now() WHERE phase = 'waiting'
       RETURNING id, pending_note IS NOT NULL AS bulk`,
    );
    return { customer: rows.filter((r) => !r.bulk).map((r) => r.id), bulk: rows.filter((r) => r.bulk).map((r) => r.id) };
  }

  /** How many subscriptions are in a phase (health: how many wait for configuration). */
  async countInPhase(phase: Phase): Promise<number> {
    const [row] = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM subscriptions WHERE phase = $1", [phase]);
    return row?.n ?? 0;
  }

  async declaredSpec(id: string): Promise<unknown> {
    const [row] = await this.db.query("SELECT declared_spec AS spec FROM subscriptions WHERE id = $1", [id]);
    return row ? DeclaredSpecRow.parse(row).spec : null;
  }

  /**
   * Ready subscriptions with what their stack was last updated with, by id after `after`: a rollout plan
   * reads every ready stack in such pages (only the columns it compares).
   */
  async readyDeclarations(after: string | null, limit: number): Promise<ReadyDeclaration[]> {
    const rows = await this.db.query(
      `SELECT id, desired, declared_spec AS spec, declared_program AS "programVersion", declared_hash AS hash
       FROM subscriptions WHERE phase = 'ready' AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
      [after, limit],
    );
    return rows.map((r) => {
      const row = ReadyRow.parse(r);
      return { id: row.id, desired: row.desired, declared: row.hash && row.programVersion ? { spec: row.spec, programVersion: row.programVersion, hash: row.hash } : null };
    });
  }

  /**
   * Within `tx`: an operator's reapply (domain/lifecycle.ts `reapplyRequested`) of those of `ids` that
   * `decide` gives a note, from each subscription as it is under its row lock (with its stack's declared
   * hash); the others are left as they are. Returns, per id, the generation asked for or why it was skipped.
   */
  async reapplyEach(
    tx: Db,
    ids: readonly string[],
    decide: (sub: SubscriptionRecord, declaredHash: string | null) => { note: string } | { skip: string },
  ): Promise<Map<string, { generation: number } | { skip: string }>> {
    const rows = await tx.query(`SELECT ${SUB_COLUMNS}, declared_hash AS "declaredHash" FROM subscriptions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
    const result = new Map<string, { generation: number } | { skip: string }>();
    const writes: Array<Record<string, unknown>> = [];
    for (const r of rows) {
      const sub = parseSub(r);
      const decided = decide(sub, z.string().nullable().parse((r as { declaredHash?: unknown }).declaredHash ?? null));
      if ("skip" in decided) {
        result.set(sub.id, decided);
        continue;
      }
      const next = reapplyRequested(sub, { note: decided.note });
      result.set(sub.id, { generation: next.generation });
      writes.push({ id: sub.id, generation: next.generation, phase: next.phase, note: next.pendingNote, refresh: next.refreshNext, rotate: next.rotatePassword });
    }
    for (const id of ids) if (!result.has(id)) result.set(id, { skip: "subscription not found" });
    if (writes.length > 0) {
      await tx.query(
        `UPDATE subscriptions s SET generation = x.generation, phase = x.phase, pending_note = x.note, refresh_next = x.refresh, rotate_password = x.rotate, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS x(id text, generation integer, phase text, note text, refresh boolean, rotate boolean) WHERE s.id = x.id`,
        [JSON.stringify(writes)],
      );
    }
    return result;
  }

  /** The subscription, its row locked until the transaction ends (an intake batch locks it the same way). */
  private async lockedForUpdate(tx: Db, id: string): Promise<SubscriptionRecord | null> {
    const [row] = await tx.query(`SELECT ${SUB_COLUMNS} FROM subscriptions WHERE id = $1 FOR UPDATE`, [id]);
    return row ? parseSub(row) : null;
  }

  /** A new customer token generation (the earlier tokens stop working); null if there is no such subscription. */
  async reissueToken(id: string): Promise<number | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query(`UPDATE subscriptions SET token_generation = token_generation + 1, token_hash = NULL WHERE id = $1 RETURNING ${SUB_COLUMNS}`, [id]);
      if (!row) return null;
      const sub = parseSub(row);
      await this.hooks.onTokenReissued?.(tx, sub);
      return sub.tokenGeneration;
    });
  }

  async operation(id: string, opId: number): Promise<OperationRecord | null> {
    const [row] = await this.db.query(`SELECT ${OP_COLUMNS} FROM operations WHERE subscription_id = $1 AND id = $2`, [id, opId]);
    return row ? OperationRecord.parse(row) : null;
  }

  async countsByStatus(): Promise<Array<{ status: string; phase: string; count: number }>> {
    const rows = await this.db.query<{ status: string; phase: string; n: number | string }>(
      `SELECT desired->>'status' AS status, phase, count(*) AS n FROM subscriptions GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    return rows.map((r) => ({ status: r.status, phase: r.phase, count: Number(r.n) }));
  }

  /** Subscriptions that need an operation (as `pendingIds`). */
  async queueDepth(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM subscriptions WHERE ${NEEDS_OPERATION}`);
    return Number(row?.n ?? 0);
  }

  async operations(id: string, limit = 20): Promise<OperationRecord[]> {
    const rows = await this.db.query(
      `SELECT ${OP_COLUMNS} FROM operations WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2`,
      [id, limit],
    );
    return rows.map((r) => OperationRecord.parse(r));
  }
}
