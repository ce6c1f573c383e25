import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { conflict, notFound } from "../domain/errors.js";
import { invoicesCsv } from "../metering/billing-run.js";
import type { BillingService } from "../metering/billing-service.js";
import type { Metrics } from "../metrics.js";
import type { BillingStore } from "../store/billing-store.js";
import { cursorsOf, PAGE_REFUSED, PAGED, PageQuery } from "./pages.js";
import { validationHook } from "./problem.js";
import * as S from "./schemas.js";
import { FORBIDDEN, json, OPERATOR, problem } from "./route-docs.js";
import type { Audited } from "./audit-routes.js";
import type { RequireRole } from "./operator-auth.js";
import { billingRunView } from "./views.js";

const TAGS = ["billing"];
const RUN_PAGES = cursorsOf("billing runs", z.number().int().positive());

/** Operator routes of billing runs (mounted at /v1/billing-runs). */
export function billingRoutes(deps: { billing: BillingService; store: BillingStore; requireRole: RequireRole; audited: Audited; metrics?: Metrics | undefined }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  // Reading runs and invoices is a viewer's; billing (and delivering it again) is an admin's.
  const middleware = [deps.requireRole("viewer")];
  const billing = (action: string): MiddlewareHandler[] => [deps.requireRole("admin"), deps.audited(action)];

  app.openapi(
    createRoute({
      method: "post", path: "/", tags: TAGS, security: OPERATOR, middleware: billing("billing.run"),
      summary: "Bill a closed month (once: running it again returns the same run), or re-rate a billed one",
      description: "With `rerate: true` the month is measured and rated again: each subscription whose charge differs gets a credit note of its invoice in force and the next version of it; an unchanged charge gets nothing (the run's `changes` say which). A re-rating that changes nothing stores no run: 200 with the period's newest run.",
      request: { body: { required: true, content: { "application/json": { schema: S.RunRequest, example: { period: "2026-10" } } } } },
      responses: {
        201: json(S.BillingRunCreated, "billed (or re-rated) now", { created: true, run: S.EXAMPLES.billingRun }),
        200: json(S.BillingRunCreated, "already billed: the stored run; or a re-rating that changed nothing: the period's newest run"),
        401: problem("operator token required"), 403: FORBIDDEN,
        409: problem("the period is not over yet; or, to re-rate, it was never billed"),
        422: problem("body must be {\"period\": \"YYYY-MM\"} (and \"rerate\": true to re-rate)"),
        502: problem("Gnocchi refused the measures: nothing stored"),
        503: problem("billing is not configured (PRICES_FILE, GNOCCHI_URL, credentials), or Gnocchi cannot be reached: nothing stored"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      try {
        if (body.rerate) {
          const { run, created } = await deps.billing.rerate(body.period);
          deps.metrics?.billingRuns.inc({ result: created ? "rerated" : "existing" });
          return created ? c.json({ created, run: billingRunView(run) }, 201) : c.json({ created, run: billingRunView(run) }, 200);
        }
        const { run, created } = await deps.billing.run(body.period);
        deps.metrics?.billingRuns.inc({ result: created ? "created" : "existing" });
        return created ? c.json({ created, run: billingRunView(run) }, 201) : c.json({ created, run: billingRunView(run) }, 200);
      } catch (e) {
        deps.metrics?.billingRuns.inc({ result: "failed" });
        throw e;
      }
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/", tags: TAGS, security: OPERATOR, middleware, summary: "Every billing run", description: PAGED,
      request: { query: PageQuery },
      responses: { 200: json(S.BillingRunList, "newest first (by run id)", { runs: [S.EXAMPLES.billingRun], nextCursor: null }), 401: problem("operator token required"), 403: FORBIDDEN, 422: problem(PAGE_REFUSED) },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await deps.store.page({ limit, after: RUN_PAGES.decode(cursor, {}) });
      return c.json({ runs: page.items.map(billingRunView), nextCursor: RUN_PAGES.next(page, {}) }, 200);
    },
  );

  const load = async (id: number) => {
    const found = await deps.store.get(id);
    if (!found) throw notFound(`billing run ${id} not found`);
    return found;
  };

  app.openapi(
    createRoute({
      method: "get", path: "/{id}", tags: TAGS, security: OPERATOR, middleware, request: { params: S.BillingRunParams },
      summary: "A run with its invoices (versioned), a re-rating's credit notes, and the inputs that reproduce it",
      responses: { 200: json(S.BillingRunDetail, "the run"), 401: problem("operator token required"), 403: FORBIDDEN, 404: problem("no such run") },
    }),
    async (c) => {
      const { run, inputs, invoices, credits } = await load(c.req.valid("param").id);
      return c.json({ run: billingRunView(run), invoices, credits, inputs }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post", path: "/{id}/deliver", tags: TAGS, security: OPERATOR, middleware: billing("billing.deliver"), request: { params: S.BillingRunParams },
      summary: "POST the run, signed, to BILLING_WEBHOOK_URL again now (a dead delivery gets fresh attempts)",
      responses: {
        200: json(S.DeliveryResponse, "delivered"),
        401: problem("operator token required"), 403: FORBIDDEN,
        404: problem("no such run"),
        409: problem("BILLING_WEBHOOK_URL is not configured"),
        502: json(S.DeliveryResponse, "this attempt failed: `waiting` (retried later, with back-off) or `failed` (refused for good)"),
      },
    }),
    async (c) => {
      const { run } = await load(c.req.valid("param").id);
      const status = await deps.billing.redeliver(run.id);
      if (!status) throw conflict("BILLING_WEBHOOK_URL is not configured: there is nowhere to deliver");
      return status.status === "delivered" ? c.json({ run: run.id, delivery: status }, 200) : c.json({ run: run.id, delivery: status }, 502);
    },
  );

  app.openapi(
    createRoute({
      method: "get", path: "/{id}/invoices.csv", tags: TAGS, security: OPERATOR, middleware, request: { params: S.BillingRunParams },
      summary: "The run's invoice and credit-note lines as CSV",
      responses: { 200: { description: "one row per line of each document (an invoice with its version, or a credit note with the version it cancels)", content: { "text/csv": { schema: z.string() } } }, 401: problem("operator token required"), 403: FORBIDDEN, 404: problem("no such run") },
    }),
    async (c) => {
      const { run, invoices, credits } = await load(c.req.valid("param").id);
      return c.body(invoicesCsv(run.period, invoices, credits), 200, {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="invoices-${run.period}.csv"`,
      });
    },
  );

  return app;
}
