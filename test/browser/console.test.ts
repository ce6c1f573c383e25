import type { Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineFailure } from "../../src/provisioning/engine.js";
import { openBrowser, screenshot, seriousViolations } from "../support/browser.js";
import type { PlacementReading } from "../../src/provisioning/capacity.js";
import { event, PREPAID } from "../support/events.js";
import { constantGnocchi } from "../support/gnocchi-constant.js";
import { harness, harnessWith } from "../support/harness.js";
import { listen } from "../support/local-server.js";
import { addOperator } from "../support/operators.js";
import { PRICES } from "../support/prices.js";
import { TWO_TARGETS } from "../support/settings.js";

type H = Awaited<ReturnType<typeof harness>>;

const REASON = "Quota exceeded for resources: ['cores'] (HTTP 403, Nova)";

let h0: H;
let h: H;
let server: Awaited<ReturnType<typeof listen>>;
let browser: Awaited<ReturnType<typeof openBrowser>>;
let page: Page;
/** Named operators' tokens: alice (admin) does the work, vera (viewer) only looks. */
let alice: string;
let vera: string;
/** Content-Security-Policy violations the page reported (Chromium logs each one to the console). */
const cspViolations: string[] = [];

beforeAll(async () => {
  // Three tenants made by the service; 42's create failed for good with Nova's refusal.
  h0 = await harness();
  h0.engine.failNext(new EngineFailure(REASON, false), "sub-42");
  for (const id of ["41", "42", "43"]) await h0.send(event(id, "subscription.created"));
  // A pay-as-you-go tenant since November 24th (the events' date): billed for the rest of that month.
  await h0.send(event("p1", "subscription.created", { plan: { model: "payg" } }));
  await h0.reconciler.idle();
  await h0.close();
  // Then the service restarted with a new program version: its ready stacks are a rollout's to change.
  h = await harnessWith(h0.engine, {
    replicaOf: { db: h0.db, pollMs: 60_000 }, programVersion: "p-next",
    billing: { gnocchi: () => constantGnocchi({ "project-of-sub-p1": 2 }), prices: PRICES },
  });
  h.reconciler.start();
  h.rollouts.start();
  alice = await addOperator(h, "alice", "admin");
  vera = await addOperator(h, "vera", "viewer");
  server = await listen(h.app);
  browser = await openBrowser();
  page = await browser.context.newPage();
  // Each wait has its deadline inside the test's (60 s): generous on a 2-core machine running the unit tests beside.
  page.setDefaultTimeout(40_000);
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) cspViolations.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
});

/** The view as a person sees it: screenshot kept, and no serious or critical accessibility violation. */
async function checked(name: string): Promise<void> {
  await screenshot(page, name);
  const violations = await seriousViolations(page);
  expect(violations, JSON.stringify(violations, null, 2)).toEqual([]);
}

const section = (name: string) => page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name });
/** Signs in on the login page; the view the address names opens. */
async function logIn(token: string): Promise<void> {
  await page.getByLabel("Operator token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Signed in as").waitFor();
}

const heading = (name: string) => page.getByRole("heading", { level: 1, name }).waitFor();

describe("the operators' console in Debian's chromium", () => {
  it("a wrong token is refused with a reason; an operator's token opens the fleet view, with the failing tenant and its reason first", async () => {
    const first = (await page.goto(`${server.url}/console`)) as Response;
    const headers = first.headers();
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["x-content-type-options"]).toBe("nosniff");

    await page.getByLabel("Operator token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("not an operator token").waitFor();
    await checked("login");

    await logIn(alice);
    await page.getByText("Signed in as alice (admin)").waitFor();
    await heading("Fleet");
    const failing = page.getByRole("region", { name: "Failing and held" });
    await failing.getByRole("row", { name: /42/ }).getByText(REASON).waitFor();
    await page.getByRole("row", { name: /failed\s+1/ }).waitFor();
    // What keeps the service from provisioning, from /healthz's details.
    await page.getByText("the pulumi CLI is not on PATH").waitFor();
    await checked("fleet");
  });

  it("opens the failing tenant, retries it and follows its live progress to ready", async () => {
    await page.getByRole("region", { name: "Failing and held" }).getByRole("link", { name: "42" }).click();
    await heading("Subscription 42");
    await page.getByText(REASON).first().waitFor();
    await page.getByRole("region", { name: "Timeline" }).getByRole("row", { name: /failed/ }).first().waitFor();
    await checked("subscription-failed");

    const release = h.engine.block("sub-42");
    await page.getByRole("button", { name: "Retry" }).click();
    const live = page.getByRole("region", { name: /in progress/ });
    await live.waitFor();
    await live.getByRole("status").getByText(/started|: /).waitFor();
    await checked("subscription-live");
    release();
    await page.locator(".state .badge", { hasText: "ready" }).waitFor();
    await page.getByRole("region", { name: "Outputs" }).getByText("project-of-sub-42").waitFor();
    // The timeline names who did it: the stack history's message and the audit trail's actor.
    const timeline = page.getByRole("region", { name: "Timeline" });
    await timeline.getByText("operator retry by alice").first().waitFor();
    await timeline.getByRole("row", { name: /subscription\.retry\s+operator:alice\s+ok/ }).waitFor();
    await timeline.getByRole("row", { name: /subscription\.created\s+marketplace:generic/ }).waitFor();
    await checked("subscription-ready");
    await page.getByRole("button", { name: "Preview" }).click();
    await page.getByRole("region", { name: "Preview of sub-42" }).waitFor();
  });

  it("the subscriptions list filters by phase and finds a customer", async () => {
    await section("Subscriptions").click();
    await heading("Subscriptions");
    await page.getByLabel("Id or customer").fill("example ltd");
    await page.getByLabel("Phase").selectOption("ready");
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByRole("table").getByText("4 subscriptions on this page, phase ready, matching “example ltd”").waitFor();
    await checked("subscriptions");
  });

  it("a rollout is started from its plan, paused and resumed", async () => {
    await section("Rollouts").click();
    await heading("Rollouts");
    await page.getByRole("button", { name: "Plan a rollout" }).click();
    await page.getByText("program: p-test -> p-next").waitFor();
    await checked("rollouts-plan");
    await page.getByRole("button", { name: /Start the rollout/ }).click();
    await heading("Rollout 1");
    // The canary wave is applied, then the rollout pauses 60 s before the next: paused by hand meanwhile.
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText(/paused by alice; started by alice/).waitFor();
    await checked("rollout-halted");
    await page.getByRole("button", { name: "Resume" }).click();
    await page.locator(".badge.rollout-running, .badge.rollout-pausing").first().waitFor();
    expect((await (await h.asOperator("/v1/rollouts/1")).json()) as { state: string }).toMatchObject({ state: expect.stringMatching(/running|pausing/) });
  });

  it("billing: an admin bills a month and sees the run with its CSV", async () => {
    await section("Billing").click();
    await heading("Billing");
    await page.getByRole("button", { name: "Bill the month" }).click();
    await page.getByRole("link", { name: "Run 1" }).waitFor();
    await checked("billing");
    await page.getByRole("link", { name: "Run 1" }).click();
    await heading("Billing run 1");
    const csv = await page.getByRole("link", { name: /CSV/ }).getAttribute("href");
    expect(csv).toBe("/v1/billing-runs/1/invoices.csv");
    await page.getByRole("heading", { level: 2, name: /Subscription p1: [0-9.]+ EUR/ }).waitFor();
    // The run's totals per target: p1 is in the only one, `default`.
    const total = (await page.getByRole("heading", { level: 2, name: /Subscription p1/ }).textContent())?.match(/([0-9.]+) EUR/)?.[1];
    await page.getByRole("table", { name: "Totals per target" }).getByRole("row", { name: `default 1 ${total} EUR` }).waitFor();
    await checked("billing-run");
  });

  it("a viewer sees no action and is refused (403, naming the role needed) when it calls one directly", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Operator token").waitFor();
    await logIn(vera);
    await page.getByText("Signed in as vera (viewer)").waitFor();
    await page.goto(`${server.url}/console#/subscriptions/42`);
    await heading("Subscription 42");
    await page.getByRole("region", { name: "Timeline" }).getByText("operator:alice").first().waitFor();
    expect(await page.getByRole("button", { name: /Retry|Rotate password|Repair drift|Preview/ }).count()).toBe(0);
    expect(await page.getByRole("region", { name: "Actions" }).count()).toBe(0);
    await checked("subscription-viewer");
    await section("Rollouts").click();
    await heading("Rollouts");
    expect(await page.getByRole("button", { name: "Plan a rollout" }).count()).toBe(0);
    // The same call the button would make, from the page with the viewer's session and CSRF token.
    const refused = await page.evaluate(`(async () => {
      const { csrf } = await (await fetch("/v1/session")).json();
      const res = await fetch("/v1/subscriptions/42/retry", { method: "POST", headers: { "x-csrf-token": csrf } });
      return { status: res.status, title: (await res.json()).title };
    })()`);
    expect(refused).toEqual({ status: 403, title: "needs the operator role; vera is a viewer" });
  });

  it("the page ran no script and no style but its own: no Content-Security-Policy violation", () => {
    expect(cspViolations).toEqual([]);
  });
});

describe("the fleet view of a service selling in two targets", () => {
  // TWO_TARGETS: `one` (Milan, RegionOne, the default) and `two` (Frankfurt, RegionTwo). Each target's
  // Placement has one hypervisor: 16 vCPUs, 64 GB, 1000 GB (allocation ratios 1, nothing reserved).
  const reading: PlacementReading = { physical: { VCPU: 16, MEMORY_MB: 65536, DISK_GB: 1000 }, used: { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 }, providers: 1 };
  const DOWN = "target two does not answer: cannot reach compute (Nova in RegionTwo)";
  const down = new Set<string>();
  let ht: H;
  let serverT: Awaited<ReturnType<typeof listen>>;
  let pageT: Page;

  beforeAll(async () => {
    ht = await harness({
      settings: TWO_TARGETS,
      targets: {
        problem: async (t) => (down.has(t) ? DOWN : null),
        capacity: ["one", "two"].map((name) => ({ name, selling: {}, placement: async () => reading })),
      },
    });
    // Sold: in `one` a PREPAID plan (8 vCPUs, 16 GB, 200 GB); in `two` that and a smaller one (4, 8 GB, 100 GB).
    await ht.send(event("m1", "subscription.created", { plan: PREPAID }));
    await ht.send(event("f1", "subscription.created", { plan: { ...PREPAID, target: "two" } }));
    await ht.send(event("f2", "subscription.created", { plan: { model: "prepaid", cores: 4, ramGb: 8, diskGb: 100, floatingIps: 1, target: "two" } }));
    await ht.reconciler.idle();
    // Then RegionTwo stops answering: its tenants stay sold there.
    down.add("two");
    serverT = await listen(ht.app);
    pageT = await browser.context.newPage();
    pageT.setDefaultTimeout(40_000);
    await pageT.goto(`${serverT.url}/console`);
    await pageT.getByLabel("Operator token").fill(await addOperator(ht, "olga", "viewer"));
    await pageT.getByRole("button", { name: "Sign in" }).click();
    await pageT.getByText("Signed in as olga (viewer)").waitFor();
  });

  afterAll(async () => {
    await pageT?.close();
    await serverT?.close();
    await ht?.close();
  });

  it("the Targets table shows each target's region, whether it answers, and sold of sellable vCPUs, RAM and disk", async () => {
    const targets = pageT.getByRole("region", { name: "Targets" });
    await targets.getByRole("table").waitFor();
    const cells = async (label: string) => (await targets.getByRole("row", { name: new RegExp(`^${label}\\b`) }).getByRole("cell").allInnerTexts()).map((t) => t.trim());
    expect(await targets.getByRole("columnheader").allInnerTexts()).toEqual(["Target", "Region", "Answers", "vCPUs", "RAM (GB)", "Disk (GB)"]);
    expect(await cells("Milan")).toEqual(["RegionOne", "yes", "8 / 16", "16 / 64", "200 / 1000"]);
    expect(await cells("Frankfurt")).toEqual(["RegionTwo", DOWN, "12 / 16", "24 / 64", "300 / 1000"]);
    await screenshot(pageT, "fleet-targets");
    const violations = await seriousViolations(pageT);
    expect(violations, JSON.stringify(violations, null, 2)).toEqual([]);
  });

  it("a target's link lists its subscriptions only, and the target filter stays when filtering by phase", async () => {
    await pageT.getByRole("region", { name: "Targets" }).getByRole("link", { name: "Frankfurt" }).click();
    await pageT.getByRole("heading", { level: 1, name: "Subscriptions" }).waitFor();
    expect(new URL(pageT.url()).hash).toBe("#/subscriptions?target=two");
    const table = pageT.getByRole("table");
    await table.getByText("2 subscriptions on this page, in target two").waitFor();
    const ids = async () => (await table.locator("tbody tr td:first-child").allInnerTexts()).map((t) => t.trim()).sort();
    expect(await ids()).toEqual(["f1", "f2"]);

    await pageT.getByLabel("Phase").selectOption("ready");
    await pageT.getByRole("button", { name: "Show" }).click();
    await table.getByText("2 subscriptions on this page, phase ready, in target two").waitFor();
    expect(new URLSearchParams(new URL(pageT.url()).hash.split("?")[1]).get("target")).toBe("two");
    expect(await ids()).toEqual(["f1", "f2"]);
    await screenshot(pageT, "subscriptions-of-a-target");
  });
});
