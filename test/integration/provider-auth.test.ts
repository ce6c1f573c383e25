import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authenticate } from "../../src/openstack/keystone.js";
import { EngineFailure } from "../../src/provisioning/engine.js";
import { ProviderAuth, tokenRefused } from "../../src/provisioning/provider-auth.js";
import { adminCredentials, testcloud } from "../support/testcloud.js";

const authUrl = () => adminCredentials().authUrl.replace(/\/+$/, "");
const osEnv = () => Object.fromEntries(Object.entries(testcloud()).filter(([k]) => k.startsWith("OS_")));

/** fetch that counts the password logins (`POST /v3/auth/tokens`) it carries to Keystone. */
function countingFetch() {
  const counter = { logins: 0 };
  const fetchImpl: typeof fetch = async (input, init) => {
    if (init?.method === "POST" && String(input).endsWith("/auth/tokens")) counter.logins++;
    return fetch(input, init);
  };
  return { counter, fetchImpl };
}

/** Keystone's own reading of a token (what gophercloud's passthrough asks: `GET /v3/auth/tokens`). */
async function validate(token: string): Promise<{ status: number; project?: string }> {
  const admin = await authenticate(adminCredentials());
  const res = await fetch(`${authUrl()}/auth/tokens`, { headers: { "x-auth-token": admin.token, "x-subject-token": token } });
  const body = res.ok ? ((await res.json()) as { token: { project?: { name: string } } }) : null;
  return { status: res.status, ...(body?.token.project ? { project: body.token.project.name } : {}) };
}

describe("the provider's Keystone token against the real Keystone", () => {
  it("a provider run gets the auth URL, a valid admin token and no re-authentication; no password, user, scope or cloud", async () => {
    const env = await new ProviderAuth(osEnv()).env();
    expect(env.OS_AUTH_URL).toBe(testcloud().OS_AUTH_URL);
    expect(env.OS_ALLOW_REAUTH).toBe("false");
    expect(env.OS_REGION_NAME).toBe("RegionOne");
    expect(env.OS_ENDPOINT_TYPE).toBe("public");
    // gophercloud passes a token through only without a scope (openstack/client.go v3auth): none may be left.
    for (const k of ["OS_PASSWORD", "OS_USERNAME", "OS_PROJECT_NAME", "OS_USER_DOMAIN_ID", "OS_PROJECT_DOMAIN_ID", "OS_CLOUD"]) expect(env).not.toHaveProperty(k);
    expect(Object.values(env)).not.toContain(testcloud().OS_PASSWORD);
    expect(await validate(env.OS_TOKEN as string)).toEqual({ status: 200, project: "admin" });
  });

  it("every run shares one login while the token has more than half its life left", async () => {
    const { counter, fetchImpl } = countingFetch();
    const auth = new ProviderAuth(osEnv(), { fetchImpl });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => auth.env().then((e) => e.OS_TOKEN)));
    expect(new Set(tokens).size).toBe(1);
    expect(counter.logins).toBe(1);
    expect(auth.secrets()).toEqual([tokens[0]]);
  });

  it("a token Keystone revoked is dropped when a run fails on it: the next run logs in again", async () => {
    const { counter, fetchImpl } = countingFetch();
    const auth = new ProviderAuth(osEnv(), { fetchImpl });
    const first = (await auth.env()).OS_TOKEN as string;
    const admin = await authenticate(adminCredentials());
    expect((await fetch(`${authUrl()}/auth/tokens`, { method: "DELETE", headers: { "x-auth-token": admin.token, "x-subject-token": first } })).status).toBe(204);
    expect((await validate(first)).status).toBe(404);
    // What gophercloud prints when its passthrough `GET /v3/auth/tokens` finds the token gone.
    const failure = `error: Expected HTTP response code [200] when accessing [GET ${authUrl()}/auth/tokens], but got 404 instead: {"error":{"code":404,"message":"Could not find token: ${first}.","title":"Not Found"}}`;
    expect(tokenRefused(failure)).toBe(true);
    auth.failed("error: Expected HTTP response code [201] when accessing [POST /v3/projects], but got 409 instead");
    expect((await auth.env()).OS_TOKEN).toBe(first); // another failure keeps the token
    auth.failed(failure);
    const second = (await auth.env()).OS_TOKEN as string;
    expect(second).not.toBe(first);
    expect((await validate(second)).status).toBe(200);
    expect(counter.logins).toBe(2);
  });

  it("a clouds.yaml cloud (OS_CLOUD) is resolved by the service: the run gets the token, not the cloud's password", async () => {
    const dir = mkdtempSync(join(tmpdir(), "provider-auth-"));
    try {
      const t = testcloud();
      const file = join(dir, "clouds.yaml");
      writeFileSync(file, `clouds:\n  admin:\n    auth:\n      auth_url: ${t.OS_AUTH_URL}\n      username: ${t.OS_USERNAME}\n      password: ${t.OS_PASSWORD}\n      project_name: ${t.OS_PROJECT_NAME}\n      user_domain_id: default\n      project_domain_id: default\n    region_name: RegionOne\n`);
      const env = await new ProviderAuth({ OS_CLOUD: "admin", OS_CLIENT_CONFIG_FILE: file }).env();
      expect(env).toMatchObject({ OS_AUTH_URL: t.OS_AUTH_URL, OS_REGION_NAME: "RegionOne", OS_ALLOW_REAUTH: "false", OS_CLIENT_CONFIG_FILE: file });
      expect(env).not.toHaveProperty("OS_CLOUD");
      expect((await validate(env.OS_TOKEN as string)).status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a wrong admin password fails the run for good, naming the credentials' source and never the password", async () => {
    const wrong = "not-the-admin-password-0123";
    const failure = await new ProviderAuth({ ...osEnv(), OS_PASSWORD: wrong }).env().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(EngineFailure);
    expect((failure as EngineFailure).transient).toBe(false);
    expect((failure as EngineFailure).message).toMatch(/Keystone refused the admin credentials from OS_\* environment/);
    expect((failure as EngineFailure).message).not.toContain(wrong);
  });
});
