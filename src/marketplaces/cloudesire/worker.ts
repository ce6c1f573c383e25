import type { MarketplaceEvent } from "../../domain/event.js";
import { stackNameOf } from "../../domain/subscription-id.js";
import type { DesiredState } from "../../domain/subscription.js";
import type { Logger } from "../../log.js";
import type { Engine } from "../../provisioning/engine.js";
import type { CloudesireClient } from "./client.js";
import { CloudesireError } from "./client.js";
import { idOfLink, InvoiceLine } from "./contract.js";
import { changes, eventOfReading, readingOf, soldHere, type CloudesireProduct } from "./mapping.js";
import type { OutboxCall } from "../../domain/cloudesire-report.js";
import { Poller } from "../../poller.js";
import { closingInvoiceLines, type ClosingBilling } from "./closing-invoice.js";
import { credentialsOf, type ReportBack } from "./report-back.js";

/** What the worker needs of the store (store/cloudesire-store.ts implements it). */
export interface CloudesirePorts {
  get(id: string): Promise<{ wanted: number; synced: number; deleted: boolean } | null>;
  due(limit?: number): Promise<string[]>;
  nextRead(id: string): Promise<number>;
  finishRead(id: string, wanted: number, lastRead: { at: string; deploymentStatus: string; paid: boolean | null; type: string | null; verdict: string }): Promise<void>;
  failRead(id: string, error: string, backoffMs: number, maxBackoffMs: number): Promise<void>;
  dueCalls(limit?: number): Promise<Array<{ id: number; subscriptionId: string; lane: string }>>;
  call(id: number): Promise<{ id: number; subscriptionId: string; lane: string; call: OutboxCall; state: string } | null>;
  markSending(id: number): Promise<void>;
  finish(id: number, state: "sent" | "skipped" | "dead" | "held", error: string | null): Promise<void>;
  /** Due again after the back-off, and not before `atLeastMs` (what a rate limit asked). */
  retryLater(id: number, error: string, backoffMs: number, maxBackoffMs: number, atLeastMs?: number): Promise<void>;
  invoicedPeriods(id: string): Promise<string[]>;
  /** Calls of the lifecycle lane not yet done (a DEPLOYED on its way). */
  reporting(id: string): Promise<boolean>;
}

/** Our subscriptions, as the worker folds readings into them (SubscriptionStore). */
export interface SubscriptionPorts {
  get(id: string): Promise<{ desired: DesiredState; phase: string; outputs: { projectId: string; domainId: string; authUrl: string; userName: string } | null } | null>;
  /** Stores the event, folds it and queues the reconcile job, in one transaction. */
  take(event: MarketplaceEvent): Promise<void>;
}

export interface CloudesireWorkerOptions {
  store: CloudesirePorts;
  /** What the customer is told of a refusal or a termination (report-back.ts). */
  reports: Pick<ReportBack<unknown>, "reportRefusal" | "reportUndeployed" | "reportDeployedAgain">;
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
    // Calls a read or an operation just queued go in the same pass.
    for (let round = 0; round < 10 && !this.poller.stopped; round++) {
      const calls = await this.o.store.dueCalls();
      if (calls.length === 0) break;
      await Promise.all(calls.map((c) => this.send(c.id, c.subscriptionId, c.lane)));
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
        const reading = readingOf(sub, buyer, rec.deleted, this.o.product);
        const current = await this.o.subscriptions.get(id);
        let verdict: string;
        if (reading.kind === "wait") verdict = `waiting: ${reading.reason}`;
        else if (reading.kind === "ignore") verdict = `ignored: ${reading.reason}`;
        else if (reading.kind === "invalid") {
          if (current?.desired.status === "cancelled") verdict = "cancelled";
          else {
            await this.o.reports.reportRefusal(id, reading.reasons, { desired: current?.desired ?? null, outputs: current?.outputs ?? null });
            verdict = `refused: ${reading.reason}`;
          }
        } else {
          const event = eventOfReading({ id, read: await this.o.store.nextRead(id), readAtMs, reading, current: current?.desired ?? null });
          if (!event) {
            // Terminated before anything was provisioned: confirm it (a 404 after DELETED needs nothing).
            if (reading.deploymentStatus === "UNDEPLOY_SENT") await this.o.reports.reportUndeployed(id);
            verdict = "nothing provisioned";
          } else if (changes(current?.desired ?? null, event)) {
            // Customer tokens are derived, never stored; Cloudesire's customers get their credentials from Cloudesire.
            await this.o.subscriptions.take(event);
            this.o.kick(id);
            verdict = `${event.type} (${event.id})`;
          } else if (reading.status === "active" && reading.deploymentStatus !== "DEPLOYED" && current?.phase === "ready" && !(await this.o.store.reporting(id))) {
            // Converge on what Cloudesire shows, not on our memory of what we said (unless our DEPLOYED is
            // still on its way: this read was made before it landed).
            await this.o.reports.reportDeployedAgain(id);
            verdict = `unchanged; DEPLOYED said again (Cloudesire shows ${reading.deploymentStatus})`;
          } else verdict = "unchanged";
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
        await c.setCredentials(id, credentialsOf(stack, outputs));
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
