import { afterEach, describe, expect, it } from "vitest";
import { event } from "../../support/events.js";
import { harness, OPERATOR_TOKEN } from "../../support/harness.js";
import { listen } from "../../support/local-server.js";
import { TENANT_RESOURCES } from "../../../src/domain/tenant-spec.js";
import { EngineFailure } from "../../../src/provisioning/engine.js";

interface SseEvent { id?: string; event: string; data: Record<string, unknown> }

/** Reads a text/event-stream over real HTTP until it ends (the server closes after `finished`). */
async function readSse(url: string, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...headers } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => {
      const field = (name: string) => block.split("\n").find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
      return { id: field("id"), event: field("event") ?? "message", data: JSON.parse(field("data") ?? "{}") as Record<string, unknown> };
    });
}

let closeServer: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeServer?.();
  closeServer = undefined;
});

describe("a live progress stream and the credentials it was opened with (issue 31)", () => {
  /** Follows subscription 43's blocked first operation with `headers`; resolves to the events once the server ends the stream. */
  async function followBlocked(h: Awaited<ReturnType<typeof harness>>, url: string, headers: Record<string, string>) {
    const release = h.engine.block("sub-43");
    await h.send(event("43", "subscription.created"));
    let opId: number | undefined;
    for (let i = 0; i < 200 && opId === undefined; i++) {
      opId = (await h.store.operations("43", 1))[0]?.id;
      if (opId === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    const res = await fetch(`${url}/v1/subscriptions/43/operations/${opId}/events`, { headers });
    expect(res.status).toBe(200);
    return { release, text: res.text() };
  }
  const within = <T>(ms: number, p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`the stream was still open after ${ms} ms`)), ms))]);

  it("ends, saying why, within seconds of its operator's revocation while the operation still runs", async () => {
    const h = await harness();
    const server = await listen(h.app);
    closeServer = server.close;
    const added = await h.asOperator("/v1/operators", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "mallory", role: "viewer" }) });
    const { token } = (await added.json()) as { token: string };
    const { release, text } = await followBlocked(h, server.url, { authorization: `Bearer ${token}` });
    try {
      expect((await h.asOperator("/v1/operators/mallory", { method: "DELETE" })).status).toBeLessThan(300);
      expect(await within(10_000, text)).toMatch(/event: unavailable\ndata: \{"reason":"the session has ended/);
    } finally {
      release();
      await h.reconciler.idle();
    }
  });

  it("ends within seconds of the console's logout", async () => {
    const h = await harness();
    const server = await listen(h.app);
    closeServer = server.close;
    const login = await fetch(`${server.url}/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: OPERATOR_TOKEN }) });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const { csrf } = (await login.json()) as { csrf: string };
    const { release, text } = await followBlocked(h, server.url, { cookie });
    try {
      expect((await fetch(`${server.url}/v1/session`, { method: "DELETE", headers: { cookie, "x-csrf-token": csrf } })).status).toBe(204);
      expect(await within(10_000, text)).toMatch(/event: unavailable/);
    } finally {
      release();
      await h.reconciler.idle();
    }
  });
});

describe("live progress of an operation as Server-Sent Events, end to end over HTTP", () => {
  it("streams output lines and resources done/total while the operation runs, then its result", async () => {
    const h = await harness();
    const server = await listen(h.app);
    closeServer = server.close;
    const release = h.engine.block("sub-42");
    await h.send(event("42", "subscription.created"));
    // The operation has begun (blocked inside the engine): find its id, then follow it.
    let opId: number | undefined;
    for (let i = 0; i < 100 && opId === undefined; i++) {
      opId = (await h.store.operations("42", 1))[0]?.id;
      if (opId === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    const streamed = readSse(`${server.url}/v1/subscriptions/42/operations/${opId}/events`);
    await new Promise((r) => setTimeout(r, 50));
    release();
    const events = await streamed;
    await h.reconciler.idle();

    expect(events[0]).toMatchObject({ event: "started", data: { subscription: "42", stack: "sub-42", kind: "up", total: TENANT_RESOURCES.length } });
    const resources = events.filter((e) => e.event === "resource" && e.data.state === "done");
    expect(resources.map((e) => e.data.name)).toEqual(TENANT_RESOURCES.map((r) => r.name));
    expect(resources.map((e) => e.data.done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.some((e) => e.event === "output" && String(e.data.line).includes("Updating (sub-42)"))).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: "finished", data: { result: "succeeded", done: 6, total: 6 } });
    // Ids increase: a client can resume with Last-Event-ID.
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    const resumed = await readSse(`${server.url}/v1/subscriptions/42/operations/${opId}/events`, { "last-event-id": String(ids.at(-3)) });
    expect(resumed.map((e) => Number(e.id))).toEqual(ids.slice(-2));
  });

  it("an operation this process no longer holds gets its stored result; unknown ones are 404; operators only", async () => {
    const h = await harness({ progressKept: 0 }); // finished streams are dropped at once, as after a restart
    const server = await listen(h.app);
    closeServer = server.close;
    h.engine.failNext(new EngineFailure("quota service said 400", false), "sub-43");
    await h.send(event("43", "subscription.created"));
    await h.reconciler.idle();
    const opId = (await h.store.operations("43", 1))[0]?.id ?? 0;
    const events = await readSse(`${server.url}/v1/subscriptions/43/operations/${opId}/events`);
    expect(events).toEqual([{ id: "final", event: "finished", data: { result: "failed", error: "quota service said 400", done: null, total: null } }]);
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    expect((await fetch(`${server.url}/v1/subscriptions/43/operations/${opId + 1000}/events`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/subscriptions/99/operations/${opId}/events`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/subscriptions/43/operations/${opId}/events`)).status).toBe(401);
  });
});
