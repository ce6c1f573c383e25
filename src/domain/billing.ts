import { z } from "zod";
import type { MarketplaceEvent } from "./event.js";

/**
 * The shapes of billing that metering computes, the store keeps and the API and marketplaces show: plain
 * data validated by zod. The arithmetic on them (decimal.js) lives in metering/; here a money amount or a
 * quantity is a decimal written as a string, never a float.
 */
export const DecimalString = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "a non-negative decimal written as a string, e.g. \"0.0125\" (never a float)");

/**
 * What is billed, and where Gnocchi keeps it. Defaults are those of a Ceilometer-fed Gnocchi:
 * instances report `vcpus` and `memory` (MB), volumes `volume.size` (GB), floating IPs `ip.floating`
 * (1 while the IP exists). `divisor` turns the metric's unit into the billed unit (MB → GB: 1024).
 */
export const Meter = z.object({
  resourceType: z.string().min(1),
  metric: z.string().min(1),
  /** The archive policy's aggregation read per resource before summing over a project's resources. */
  aggregation: z.enum(["mean", "max", "last"]).default("mean"),
  divisor: z.number().positive().default(1),
  unit: z.string().min(1),
});
export type Meter = z.infer<typeof Meter>;

export const BilledResource = z.enum(["cores", "ramGb", "diskGb", "floatingIps"]);
export type BilledResource = z.infer<typeof BilledResource>;

export const Meters = z.object({ cores: Meter, ramGb: Meter, diskGb: Meter, floatingIps: Meter }).strict();
export type Meters = z.infer<typeof Meters>;

export const DEFAULT_METERS: Meters = {
  cores: { resourceType: "instance", metric: "vcpus", aggregation: "mean", divisor: 1, unit: "core-hour" },
  ramGb: { resourceType: "instance", metric: "memory", aggregation: "mean", divisor: 1024, unit: "GB-hour" },
  diskGb: { resourceType: "volume", metric: "volume.size", aggregation: "mean", divisor: 1, unit: "GB-hour" },
  floatingIps: { resourceType: "network", metric: "ip.floating", aggregation: "mean", divisor: 1, unit: "IP-hour" },
};

const ResourcePrice = z.object({
  /** Price of one unit-hour (a core-hour, a GB-hour, an IP-hour). */
  unitPrice: DecimalString,
  /** Unit-hours per period not charged. */
  freeUnitHours: DecimalString.default("0"),
});

/**
 * The price file. `version` is recorded with every billing run so that a run can be reproduced with the
 * prices it used. Rounding happens once per invoice line, to `decimals` places, with `rounding`.
 */
export const PriceList = z.object({
  version: z.string().min(1),
  currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR"),
  decimals: z.number().int().min(0).max(6).default(2),
  rounding: z.enum(["half-even", "half-up", "half-down", "up", "down"]).default("half-even"),
  resources: z.object({ cores: ResourcePrice, ramGb: ResourcePrice, diskGb: ResourcePrice, floatingIps: ResourcePrice }).strict(),
});
export type PriceList = z.infer<typeof PriceList>;

export const InvoiceLine = z.object({
  resource: BilledResource,
  unit: z.string(),
  /** Unit-hours used, shown to 6 decimals; the amount is computed from the exact quantity. */
  quantity: z.string(),
  freeUnitHours: z.string(),
  unitPrice: z.string(),
  amount: z.string(),
});
export type InvoiceLine = z.infer<typeof InvoiceLine>;

export const Invoice = z.object({
  subscriptionId: z.string(),
  currency: z.string(),
  lines: z.array(InvoiceLine),
  total: z.string(),
});
export type Invoice = z.infer<typeof Invoice>;

/**
 * An invoice as issued: a period's first run issues version 1 of each subscription's invoice; a re-rating
 * that changes a charge credits the current version and issues the next one (2, 3…).
 */
export const IssuedInvoice = Invoice.extend({ version: z.number().int().positive() });
export type IssuedInvoice = z.infer<typeof IssuedInvoice>;

/**
 * A credit note: cancels, in full, version `cancelsVersion` of the subscription's invoice of the period.
 * Its lines and total are those of the invoice it cancels, positive (what is credited), never a negative
 * amount: a spreadsheet would read a leading `-` as a formula (the CSV neutralises it) and Cloudesire's
 * invoice lines take non-negative prices only.
 */
export const CreditNote = Invoice.extend({ cancelsVersion: z.number().int().positive() });
export type CreditNote = z.infer<typeof CreditNote>;

/** What a re-rating did to one subscription's charge of the period. */
export const RerateChange = z.object({
  subscriptionId: z.string(),
  /**
   * `reissued`: the current invoice credited, a new version issued; `credited`: credited, nothing left to
   * charge; `invoiced`: charged for the first time; `unchanged`: the same charge, no document issued.
   */
  change: z.enum(["reissued", "credited", "invoiced", "unchanged"]),
  /** The invoice in force before (version, total); null: none. */
  before: z.object({ version: z.number().int(), total: z.string() }).nullable(),
  /** The invoice in force after; null: none. */
  after: z.object({ version: z.number().int(), total: z.string() }).nullable(),
});
export type RerateChange = z.infer<typeof RerateChange>;

/** One invoice already issued for a period, and whether a credit note has cancelled it. */
export interface IssuedState {
  invoice: IssuedInvoice;
  credited: boolean;
}

/** The documents a re-rating issues, and what it did to each subscription (the run's summary). */
export interface RerateDocuments {
  credits: CreditNote[];
  invoices: IssuedInvoice[];
  changes: RerateChange[];
}

/** What a billing run read and decided, stored with it so that it can be re-read and re-rated. */
export const BillingInputs = z.object({
  period: z.string(),
  granularitySeconds: z.number(),
  meters: Meters,
  prices: PriceList,
  gnocchiRequests: z.number(),
  subscriptions: z.array(
    z.object({
      id: z.string(),
      projectId: z.string().nullable(),
      /** PAYG-and-active intervals within the period, ISO times. */
      intervals: z.array(z.object({ start: z.string(), stop: z.string() })),
      /** Exact usage per resource in unit-milliseconds (decimal strings). */
      usageUnitMs: z.record(BilledResource, z.string()),
      /**
       * The target its tenant is in, by name (issue 33): its usage was measured in that target's Gnocchi and
       * its invoice counts in that target's total. Absent in runs stored before targets: the default target.
       */
      target: z.string().optional(),
    }),
  ),
  /**
   * Subscriptions this run could not bill because their stored history cannot be read (issue 31): named
   * here, billed by a re-rating once repaired, never the reason the month's run fails for everyone.
   */
  unbilled: z.array(z.object({ subscription: z.string(), reason: z.string() })).default([]),
});
export type BillingInputs = z.infer<typeof BillingInputs>;

export interface BillableSubscription {
  id: string;
  /** The Keystone project whose usage Gnocchi holds; null if the tenant was never provisioned. */
  projectId: string | null;
  events: MarketplaceEvent[];
  /** Why its stored events cannot be read (then `events` is empty and it is not billed), if so. */
  unreadable?: string;
  /** The target its tenant is in (its plan's; absent: the default target): its usage is in that target's Gnocchi. */
  target?: string | undefined;
}

export interface BillingComputation {
  inputs: BillingInputs;
  invoices: Invoice[];
}

/**
 * Where a run's delivery to the billing URL stands, kept with the run: `waiting` for its next attempt at
 * `nextAt` (after `error`), `delivered`, or `failed` for good (dead: an operator redelivers it).
 */
export const DeliveryStatus = z.object({
  status: z.enum(["waiting", "delivered", "failed"]),
  attempts: z.number(),
  at: z.string(),
  error: z.string().nullable(),
  nextAt: z.string().nullable().default(null),
});
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

/**
 * What a run's invoices come to in one target (issue 33: "billing totals per target"), in one currency:
 * the exact sum of those invoices' totals, which are already rounded line by line, so there is no second
 * rounding and the targets' totals add up to the run's total.
 */
export const TargetTotal = z.object({
  target: z.string(),
  currency: z.string(),
  invoiceCount: z.number().int(),
  total: DecimalString,
});
export type TargetTotal = z.infer<typeof TargetTotal>;

/** A run's figures: its total and the same invoices totalled per target (metering/run-totals.ts). */
export interface RunTotals {
  total: string;
  targetTotals: TargetTotal[];
}

/** A stored billing run: one `bill` per period, then any number of `rerate` runs of it. */
export const BillingRunRecord = z.object({
  id: z.coerce.number(),
  period: z.string(),
  kind: z.enum(["bill", "rerate"]),
  /** A re-rating's outcome per subscription (null for a `bill`). */
  changes: z.array(RerateChange).nullable(),
  createdAt: z.string(),
  pricesVersion: z.string(),
  currency: z.string(),
  invoiceCount: z.number(),
  total: z.string(),
  /** The run's invoices totalled per target and currency; null: a run stored before issue 33 kept them. */
  targetTotals: z.array(TargetTotal).nullable().default(null),
  delivery: DeliveryStatus.nullable(),
  /** Subscriptions the run could not bill (their stored history cannot be read). */
  unbilled: z.array(z.object({ subscription: z.string(), reason: z.string() })).default([]),
});
export type BillingRunRecord = z.infer<typeof BillingRunRecord>;
