/**
 * The console's data, inferred from the API's own schemas (one source: a field renamed there fails to
 * compile here). Type imports only: esbuild drops them, so no server code reaches the browser.
 */
import type { z } from "@hono/zod-openapi";
import type * as S from "../api/schemas.js";
import type * as R from "../api/rollout-schemas.js";
import type { OperationEvent } from "../api/sse.js";
import type * as O from "../api/operator-schemas.js";
import type * as C from "../api/capacity-routes.js";

export type Session = z.infer<typeof O.Session>;
export type Role = Session["role"];
export type Problem = z.infer<typeof S.Problem>;
export type Subscription = z.infer<typeof S.SubscriptionView>;
export type SubscriptionList = z.infer<typeof S.SubscriptionList>;
export type SubscriptionDetail = z.infer<typeof S.SubscriptionDetail>;
export type ListQuery = z.input<typeof S.ListQuery>;
export type Phase = Subscription["phase"];
export type Status = Subscription["status"];
export type History = z.infer<typeof S.HistoryResponse>;
export type Preview = z.infer<typeof S.PreviewResponse>;
export type Accepted = z.infer<typeof S.RetryAccepted>;
export type DriftPage = z.infer<typeof S.DriftPage>;
export type DeadLetterList = z.infer<typeof S.DeadLetterList>;
export type Fleet = z.infer<typeof S.FleetSummary>;
export type Health = z.infer<typeof S.Health>;
export type BillingRunList = z.infer<typeof S.BillingRunList>;
export type BillingRunDetail = z.infer<typeof S.BillingRunDetail>;
export type Rollout = z.infer<typeof R.Rollout>;
export type RolloutList = z.infer<typeof R.RolloutList>;
export type TargetList = z.infer<typeof C.TargetList>;
export type CapacityList = z.infer<typeof C.CapacityList>;
export type RolloutDetail = z.infer<typeof R.RolloutDetail>;
export type RolloutPlan = z.infer<typeof R.RolloutPlan>;
export type ProgressEvent = OperationEvent;

export type AuditPage = z.infer<typeof O.AuditPage>;
