import { describe, expect, it } from "vitest";
import { AdminSession } from "../../src/openstack/admin-session.js";
import { authenticate } from "../../src/openstack/keystone.js";
import { adminCredentials } from "../support/testcloud.js";

/** fetch that counts the logins (`POST /v3/auth/tokens`) it carries to Keystone. */
function countingFetch() {
  const counter = { logins: 0, refused: 0 };
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (init?.method === "POST" && url.endsWith("/auth/tokens")) counter.logins++;
    const res = await fetch(input, init);
    if (res.status === 401) counter.refused++;
    return res;
  };
  return { counter, fetchImpl };
}

const authUrl = () => adminCredentials().authUrl.replace(/\/+$/, "");

/** The admin's own project, read with the session's token: any admin call would do. */
async function listAdminProject(session: AdminSession): Promise<number> {
  const res = await session.fetch(`${authUrl()}/projects?name=admin`, { method: "GET" }, 10_000);
  await res.body?.cancel();
  return res.status;
}

/** Keystone's `DELETE /v3/auth/tokens`: the token is dead from now on, as after a password change. */
async function revoke(token: string): Promise<void> {
  const other = await authenticate(adminCredentials());
  const res = await fetch(`${authUrl()}/auth/tokens`, { method: "DELETE", headers: { "x-auth-token": other.token, "x-subject-token": token } });
  expect(res.status).toBe(204);
}

describe("the admin's token against the real Keystone", () => {
  it("a token Keystone revoked is refused with 401, and the session logs in again once and carries on", async () => {
    const { counter, fetchImpl } = countingFetch();
    const session = new AdminSession(adminCredentials(), { fetchImpl });
    expect(await listAdminProject(session)).toBe(200);
    const first = (await session.current()).token;
    await revoke(first);
    // Keystone itself refuses the revoked token: the fact the session has to survive.
    const refused = await fetch(`${authUrl()}/projects?name=admin`, { headers: { "x-auth-token": first } });
    expect(refused.status).toBe(401);

    const statuses = await Promise.all(Array.from({ length: 4 }, () => listAdminProject(session)));
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(counter.logins).toBe(2); // the four callers refused at once shared one new login
    expect(counter.refused).toBeGreaterThanOrEqual(1);
    expect((await session.current()).token).not.toBe(first);
  });

  it("a token is replaced a margin before Keystone's expires_at, before any service refuses it", async () => {
    let now = Date.now();
    const { counter, fetchImpl } = countingFetch();
    const margin = 5 * 60_000;
    const session = new AdminSession(adminCredentials(), { fetchImpl, now: () => now, renewMarginMs: margin });
    const first = await session.current();
    // The expiry the session works from is Keystone's: `[token] expiration` (3600 s unless configured).
    const validated = await fetch(`${authUrl()}/auth/tokens`, { headers: { "x-auth-token": first.token, "x-subject-token": first.token } });
    const body = (await validated.json()) as { token: { expires_at: string; issued_at: string } };
    expect(first.expiresAt).toBe(body.token.expires_at);
    const lifetime = Date.parse(body.token.expires_at) - Date.parse(body.token.issued_at);
    expect(first.lifetimeMs).toBe(lifetime);

    now += lifetime - Math.min(margin, lifetime / 2) - 1_000;
    expect(await listAdminProject(session)).toBe(200);
    expect(counter.logins).toBe(1); // still well within its life: kept
    now += 2_000;
    expect(await listAdminProject(session)).toBe(200);
    expect(counter.logins).toBe(2); // within the margin: replaced before the request
    expect(counter.refused).toBe(0);
    expect((await session.current()).token).not.toBe(first.token);
  });
});
