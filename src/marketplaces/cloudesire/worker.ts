import type { MarketplaceEvent } from "../../domain/event.js";
import { stackNameOf } from "../../domain/subscription-id.js";
import type { Logger } from "../../log.js";
import type { Engine } from "../../provisioning/engine.js";
import type { CloudesireClient } from "./client.js";
import { CloudesireError } from "./client.js";
import { idOfLink, InvoiceLine } from "./contract.js";
import { changes, eventOfReading, readingOf, soldHere, type CloudesireProduct } from "./mapping.js";
import { laneOf, OPTIONAL_CALL_ATTEMPTS, type OutboxCall, type Reported, type ReportedStatus } from "../../domain/cloudesire-report.js";
import { Poller } from "../../poller.js";
import { closingInvoiceLines, type ClosingBilling } from "./closing-invoice.js";
import { credentialsOf, type AccessSubject, type ReportBack } from "./report-back.js";

/** What the worker needs of the store (store/cloudesire-store.ts implements it). */
export interface CloudesirePorts {
  get(id: string): Promise<{ wanted: number; synced: number; deleted: boolean; reported: Reported } | null>;
  due(limit?: number): Promise<string[]>;
  nextRead(id: string): Promise<number>;
  finishRead(id: string, wanted: number, lastRead: { at: string; deploymentStatus: string; paid: boolean | null; type: string | null; verdict: string }): Promise<void>;
  failRead(id: string, error: string, backoffMs: number, maxBackoffMs: number): Promise<void>;
  dueCalls(limit?: number): Promise<Array<{ id: number; subscriptionId: string; lane: string }>>;
  call(id: number): Promise<{ id: number; subscriptionId: string; lane: string; call: OutboxCall; state: string; attempts: number } | null>;
  markSending(id: number): Promise<void>;
  finish(id: number, state: "sent" | "skipped" | "dead" | "held", error: string | null): Promise<void>;
  /** Due again after the back-off, and not before `atLeastMs` (what a rate limit asked). */
  retryLater(id: number, error: string, backoffMs: number, maxBackoffMs: number, atLeastMs?: number): Promise<void>;
  invoicedPeriods(id: string): Promise<string[]>;
  /** Calls of the lifecycle lane not yet done (a DEPLOYED on its way). */
  reporting(id: string): Promise<boolean>;
  /** Subscriptions whose access was posted. */
  withAccess(): Promise<string[]>;
}

/** Our subscriptions, as the worker folds readings into them (SubscriptionStore). */
export interface SubscriptionPorts {
  get(id: string): Promise<AccessSubject | null>;
  /**
   * Stores the event, folds it and queues the reconcile job, in one transaction; or says why it was refused
   * (the subscription id is the generic webhook's: issue 31), with nothing stored.
   */
  take(event: MarketplaceEvent): Promise<{ refused: string | null }>;
}

export interface CloudesireWorkerOptions {
  store: CloudesirePorts;
  /** What the customer is told of a refusal or a termination (report-back.ts). */
  reports: Pick<ReportBack<unknown>, "reportRefusal" | "reportUndeployed" | "sayAgain" | "refreshAccess" | "languages">;
  subscriptions: SubscriptionPorts;
  client: CloudesireClient;
  engine: Pick<Engine, "outputs">;
  product: CloudesireProduct;
  /** The customer's password-reset page for subscription `id` (null: none to give yet). */
  passwordResetLink?: ((id: string) => Promise<string | null>) | undefined;
  /** Rates a cancelled PAYG subscription's last usage (closing-invoice.ts); none: nothing to rate it with. */
  closing?: ClosingBilling | undefined;
  /** Runs `fn` holding a lock shared by every replica (Db.tryWithLock). */
  withLock: <T>(key: string, fn: () => Promise<T>) => Promise<{ acquired: true; value: T } | { acquired: false }>;
  /** A reconcile job was queued: look for work now. */
  kick: (id: string) => void;
  log: Logger;
  pollMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  now?: () => number;
}

/**
 * Converges on Cloudesire. Two loops in one: (1) every subscription whose read is wanted is read from
 * Cloudesire (with its buyer) and folded into our desired state, so the reconciler provisions it; the
 * notification was only a trigger. (2) The outbox's calls back to Cloudesire go out in order per
 * subscription, each retried with back-off until it lands; a call Cloudesire refuses is dead, an invoice
 * whose fate is unknown is held for an operator rather than risk billing twice.
 */
export class CloudesireWorker {
  private readonly poller: Poller;
  /** Whether this process brought every subscription's access up to date (once, at its first pass). */
  private refreshed = false;
  /** The first of the reads failing in a row (Cloudesire down, our token refused), for /healthz; null once one succeeds. */
  private failingReads: { since: string; error: string } | null = null;

  constructor(private readonly o: CloudesireWorkerOptions) {
    this.poller = new Poller(() => this.pass(), o.pollMs, (e) => o.log.error("cloudesire worker pass failed", { error: message(e) }));
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** Why Cloudesire cannot be read now (every read since `since` failed), or null. */
  readProblem(): string | null {
    return this.failingReads ? `Cloudesire cannot be read since ${this.failingReads.since}: ${this.failingReads.error}` : null;
  }

  /** A notification was stored, or a call queued: work now rather than at the next poll. */
  kick(): void {
    this.poller.kick();
  }

  /** A pass now (during one: one more after it); resolves when the passes are over. */
  pump(): Promise<void> {
    return this.poller.run();
  }

  private async pass(): Promise<void> {
    const ids = await this.o.store.due();
    await Promise.all(ids.map((id) => this.sync(id)));
    // Once per process, after the reads that were waiting (customers first): the access it would post.
    if (!this.refreshed) {
      await this.refreshAll();
      this.refreshed = true;
    }
    // Calls a read or an operation just queued go in the same pass.
    for (let round = 0; round < 10 && !this.poller.stopped; round++) {
      const calls = await this.o.store.dueCalls();
      if (calls.length === 0) break;
      await Promise.all(calls.map((c) => this.send(c.id, c.subscriptionId, c.lane)));
    }
  }

  /**
   * At start: what Cloudesire shows of each subscription's access follows this process's configuration (a
   * dashboard, documentation or service URL changed, other languages) without an operator's hand; only
   * what differs is queued, so an unchanged start queues nothing.
   */
  private async refreshAll(): Promise<void> {
    for (const id of await this.o.store.withAccess()) {
      const sub = await this.o.subscriptions.get(id);
      if (sub) await this.o.reports.refreshAccess(sub);
    }
  }

  /** Reads subscription `id` now and converges on it (one read at a time per subscription, across replicas). */
  async sync(id: string): Promise<void> {
    await this.o.withLock(`cloudesire-sync:${id}`, async () => {
      const rec = await this.o.store.get(id);
      if (!rec || rec.wanted <= rec.synced) return;
      const readAtMs = (this.o.now ?? Date.now)();
      try {
        const sub = await this.o.client.subscription(id);
        const buyerId = sub && soldHere(sub, this.o.product) ? idOfLink(sub.buyer) : null;
        const buyer = buyerId ? await this.o.client.user(buyerId) : null;
        const current = await this.o.subscriptions.get(id);
        const reading = readingOf(sub, buyer, rec.deleted, this.o.product, current?.desired.plan ?? null);
        let verdict: string;
        if (reading.kind === "wait") verdict = `waiting: ${reading.reason}`;
        else if (reading.kind === "ignore") verdict = `ignored: ${reading.reason}`;
        else if (reading.kind === "invalid") {
          if (current?.desired.status === "cancelled") verdict = "cancelled";
          else {
            await this.o.reports.reportRefusal(id, reading.reasons, { desired: current?.desired ?? null, outputs: current?.outputs ?? null });
            verdict = `refused: ${reading.reason}`;
            // The same refusal, but Cloudesire no longer shows FAILED (reset on its side): say it again.
            if (rec.reported.failure === reading.reason && !rec.reported.access) verdict += await this.sayAgain(id, "FAILED", reading.deploymentStatus, rec.reported);
          }
        } else {
          const event = eventOfReading({ id, read: await this.o.store.nextRead(id), readAtMs, reading, current: current?.desired ?? null });
          const taken = event && changes(current?.desired ?? null, event) ? await this.o.subscriptions.take(event) : null;
          if (taken?.refused) {
            // Not ours to change (the id is the generic webhook's): nothing is folded, said to operators
            // (this read's verdict, the log); Cloudesire is told nothing it would show its customer.
            this.o.log.error("cloudesire read refused", { subscription: id, reason: taken.refused });
            verdict = `refused: ${taken.refused}`;
          } else if (!event) {
            // Terminated before anything was provisioned: confirm it (a 404 after DELETED needs nothing), and
            // again whenever Cloudesire still shows UNDEPLOY_SENT after our UNDEPLOYED.
            verdict = "nothing provisioned";
            if (reading.deploymentStatus === "UNDEPLOY_SENT") {
              if (rec.reported.status === "UNDEPLOYED") verdict += await this.sayAgain(id, "UNDEPLOYED", reading.deploymentStatus, rec.reported);
              else await this.o.reports.reportUndeployed(id);
            }
          } else if (taken) {
            // Customer tokens are derived, never stored; Cloudesire's customers get their credentials from Cloudesire.
            this.o.kick(id);
            verdict = `${event.type} (${event.id})`;
          } else {
            // Converge on what Cloudesire shows, not on our memory of what we said: what we said last is said
            // again when Cloudesire shows otherwise (a PATCH lost on its side, an operator's reset), unless
            // a call is still on its way (this read was made before it landed).
            verdict = "unchanged";
            const phase = current?.phase;
            if (reading.status === "active" && phase === "ready") verdict += await this.sayAgain(id, "DEPLOYED", reading.deploymentStatus, rec.reported);
            else if (reading.status === "active" && phase === "failed" && !rec.reported.access) verdict += await this.sayAgain(id, "FAILED", reading.deploymentStatus, rec.reported);
            else if (reading.status === "cancelled" && phase === "cancelled" && reading.deploymentStatus === "UNDEPLOY_SENT") verdict += await this.sayAgain(id, "UNDEPLOYED", reading.deploymentStatus, rec.reported);
          }
          if (reading.notes) {
            // Said where an operator looks (the read's verdict, the log); the order goes on with the cleaned text.
            verdict = `${verdict}; ${reading.notes.join("; ")}`;
            this.o.log.warn("cloudesire text cleaned", { subscription: id, notes: reading.notes });
          }
        }
        await this.o.store.finishRead(id, rec.wanted, {
          at: new Date(readAtMs).toISOString(), deploymentStatus: reading.deploymentStatus, paid: sub?.paid ?? null, type: sub?.type ?? null, verdict,
        });
        this.o.log.info("cloudesire read", { subscription: id, deploymentStatus: reading.deploymentStatus, verdict });
        this.failingReads = null;
      } catch (e) {
        // Cloudesire down or slow: the read is tried again later; the request to read is never dropped.
        await this.o.store.failRead(id, message(e), this.o.backoffMs, this.o.maxBackoffMs);
        this.failingReads = { since: this.failingReads?.since ?? new Date(readAtMs).toISOString(), error: message(e) };
        this.o.log.warn("cloudesire read failed, will retry", { subscription: id, error: message(e) });
      }
    });
  }

  /**
   * Says `status` again when Cloudesire shows something else (`shown`) and nothing is on its way: what we
   * said last is what Cloudesire must show (DEPLOYED for a ready tenant, FAILED for a refused or failed
   * order, UNDEPLOYED once torn down). Returns what the read's verdict adds.
   */
  private async sayAgain(id: string, status: ReportedStatus, shown: string, reported: Reported): Promise<string> {
    if (shown === status || (status !== "DEPLOYED" && reported.status !== status)) return "";
    if (await this.o.store.reporting(id)) return "";
    await this.o.reports.sayAgain(id, status);
    return `; ${status} said again (Cloudesire shows ${shown})`;
  }

  /** Sends one outbox call, holding its lane's lock (so a row found `sending` was left by a dead process). */
  private async send(rowId: number, subscriptionId: string, lane: string): Promise<void> {
    await this.o.withLock(`cloudesire-outbox:${subscriptionId}:${lane}`, async () => {
      const row = await this.o.store.call(rowId);
      if (!row || (row.state !== "pending" && row.state !== "sending")) return;
      const fields = { subscription: subscriptionId, call: row.id, kind: row.call.kind };
      const pushesInvoice = row.call.kind === "invoice" || row.call.kind === "closing-invoice";
      if (row.state === "sending" && pushesInvoice) {
        // We died between the push and its record: Cloudesire may hold the invoice. No key exists to ask it,
        // so an operator checks the subscription's invoices and says whether it landed.
        await this.o.store.finish(row.id, "held", `interrupted during the push: Cloudesire may already have this invoice; check subscription ${subscriptionId}'s invoices, then 'tenantctl cloudesire resolve ${row.id} sent|resend'`);
        this.o.log.warn("cloudesire call held", fields);
        return;
      }
      if (row.call.kind === "credit-note") {
        const c = row.call;
        await this.o.store.finish(row.id, "held", `a re-rating cancelled version ${c.cancelsVersion} of the ${c.period} invoice (${c.total} ${c.currency}): Cloudesire's API cannot credit an invoice, so credit it on Cloudesire, then 'tenantctl cloudesire resolve ${row.id} sent' (the new version waits behind it)`);
        this.o.log.warn("cloudesire credit note held for an operator", fields);
        return;
      }
      await this.o.store.markSending(row.id);
      try {
        const outcome = await this.perform(subscriptionId, row.call);
        await this.o.store.finish(row.id, outcome, outcome === "skipped" ? (row.call.kind === "closing-invoice" ? "no usage left to invoice" : "the tenant no longer exists: nothing to send") : null);
        this.o.log.info("cloudesire call", { ...fields, result: outcome });
      } catch (e) {
        const error = message(e);
        if (e instanceof CloudesireError && !e.transient) {
          // A PATCH UNDEPLOYED on a subscription Cloudesire already deleted has nothing left to say.
          if (e.status === 404 && row.call.kind === "status" && row.call.deploymentStatus === "UNDEPLOYED") {
            await this.o.store.finish(row.id, "skipped", error);
            return;
          }
          // Optional calls (the name, the undocumented metadata): a refusal is noted, and stops nothing after it.
          if (row.call.kind === "metadata" || row.call.kind === "name") {
            await this.o.store.finish(row.id, "skipped", `optional call refused: ${error}`);
            this.o.log.warn("cloudesire optional call refused", { ...fields, error });
            return;
          }
          await this.o.store.finish(row.id, "dead", error);
          this.o.log.error("cloudesire call refused", { ...fields, error });
        } else if (e instanceof CloudesireError && e.applied === "unknown" && pushesInvoice) {
          await this.o.store.finish(row.id, "held", `${error}: Cloudesire may have created the invoice; check, then 'tenantctl cloudesire resolve ${row.id} sent|resend'`);
          this.o.log.warn("cloudesire call held", { ...fields, error });
        } else if (laneOf(row.call) === "optional" && row.attempts + 1 >= OPTIONAL_CALL_ATTEMPTS) {
          // An optional call is not worth an endless retry (the metadata API is not even in the vendor docs).
          await this.o.store.finish(row.id, "skipped", `optional call gave up after ${row.attempts + 1} attempts: ${error}`);
          this.o.log.warn("cloudesire optional call given up", { ...fields, error });
        } else {
          // Endpoints, instructions, credentials, metadata and status set a value: sending again is harmless.
          await this.o.store.retryLater(row.id, error, this.o.backoffMs, this.o.maxBackoffMs, e instanceof CloudesireError ? e.retryAfterMs : 0);
          this.o.log.warn("cloudesire call failed, will retry", { ...fields, error });
        }
      }
    });
  }

  private async perform(id: string, call: OutboxCall): Promise<"sent" | "skipped"> {
    const c = this.o.client;
    switch (call.kind) {
      case "endpoints": {
        const link = call.passwordReset && this.o.passwordResetLink ? await this.o.passwordResetLink(id) : null;
        await c.setEndpoints(id, link ? [...call.endpoints, { endpoint: link, description: "Set a new password", category: "PASSWORD_RESET" }] : call.endpoints);
        return "sent";
      }
      case "instructions":
        await c.setInstructions(id, call.instructions);
        return "sent";
      case "credentials": {
        // From the engine, when sent: the password never rests in the outbox (nor in a log line).
        const stack = stackNameOf(id);
        const outputs = await this.o.engine.outputs(stack);
        if (!outputs) return "skipped";
        await c.setCredentials(id, credentialsOf(stack, outputs, this.o.reports.languages));
        return "sent";
      }
      case "metadata":
        await c.mergeMetadata(id, call.values);
        return "sent";
      case "name":
        await c.setName(id, call.name);
        return "sent";
      case "status":
        await c.setStatus(id, call.deploymentStatus);
        return "sent";
      case "invoice":
        await c.pushInvoice(id, call.lines.map((l) => InvoiceLine.parse(l)));
        return "sent";
      case "closing-invoice": {
        if (!this.o.closing) throw new CloudesireError("no billing configured: the closing invoice cannot be rated (PRICES_FILE, GNOCCHI_URL)", null, false, "no");
        const lines = await closingInvoiceLines(this.o.closing, id, Date.parse(call.until), new Set(await this.o.store.invoicedPeriods(id)));
        if (lines.length === 0) return "skipped";
        await c.pushInvoice(id, lines);
        return "sent";
      }
      case "credit-note":
        throw new CloudesireError("Cloudesire's API cannot credit an invoice: an operator credits it there", null, false, "no");
    }
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
