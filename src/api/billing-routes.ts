import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { conflict, invalid, notFound } from "../domain/errors.js";
import { invoicesCsv } from "../metering/billing-run.js";
import type { BillingService } from "../metering/billing-service.js";
import { PeriodName } from "../metering/period.js";
import type { BillingRunRecord, BillingStore } from "../store/billing-store.js";

const RunRequest = z.object({ period: PeriodName }).strict();

/** Operator routes of billing runs. */
export function billingRoutes(deps: { billing: BillingService<BillingRunRecord>; store: BillingStore; operator: MiddlewareHandler }) {
  const app = new Hono();
  app.use("*", deps.operator);

  app.post("/", async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const parsed = RunRequest.safeParse(body);
    if (!parsed.success) throw invalid("body must be {\"period\": \"YYYY-MM\"}", parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
    const { run, created } = await deps.billing.run(parsed.data.period);
    return c.json({ created, run }, created ? 201 : 200);
  });

  app.get("/", async (c) => c.json({ runs: await deps.store.list() }));

  const load = async (raw: string) => {
    const id = Number(raw);
    const found = Number.isSafeInteger(id) && id > 0 ? await deps.store.get(id) : null;
    if (!found) throw notFound(`billing run ${raw} not found`);
    return found;
  };

  app.get("/:id", async (c) => {
    const { run, inputs, invoices } = await load(c.req.param("id"));
    return c.json({ run, invoices, inputs });
  });

  app.post("/:id/deliver", async (c) => {
    const { run } = await load(c.req.param("id"));
    const status = await deps.billing.deliver(run.id);
    if (!status) throw conflict("BILLING_WEBHOOK_URL is not configured: there is nowhere to deliver");
    return c.json({ run: run.id, delivery: status }, status.status === "delivered" ? 200 : 502);
  });

  app.get("/:id/invoices.csv", async (c) => {
    const { run, invoices } = await load(c.req.param("id"));
    return c.body(invoicesCsv(run.period, invoices), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="invoices-${run.period}.csv"`,
    });
  });

  return app;
}
