import type { CloudesireSettings } from "./settings.js";
import type { Finding } from "../../openstack/doctor.js";
import { CloudesireClient, CloudesireError } from "./client.js";

/**
 * `tenantctl cloudesire doctor`: can this service sell on Cloudesire? The notifications' secret is set,
 * the API answers, and it accepts our token (`HEAD subscription` needs a vendor's token).
 */
export async function cloudesireDoctor(c: CloudesireSettings, fetchImpl?: typeof fetch): Promise<Finding[]> {
  const findings: Finding[] = [];
  findings.push(c.eventSecret
    ? { status: "ok", check: "notification secret", message: "CLOUDESIRE_EVENT_SECRET is set: notifications are verified (CMW-Event-Signature)" }
    : { status: "fail", check: "notification secret", message: "CLOUDESIRE_EVENT_SECRET is not set: notifications are refused" });
  findings.push(c.dashboardUrl
    ? { status: "ok", check: "dashboard", message: `customers are sent to ${c.dashboardUrl}` }
    : { status: "warn", check: "dashboard", message: "CLOUDESIRE_DASHBOARD_URL is not set: the customer's APP endpoint is the tenant's identity (Keystone) URL, and none when it is not HTTPS" });
  if (!c.apiUrl || !c.token) {
    findings.push({ status: "fail", check: "api", message: `${!c.apiUrl ? "CLOUDESIRE_API_URL" : "CLOUDESIRE_TOKEN"} is not set: subscriptions cannot be read` });
    return findings;
  }
  const client = new CloudesireClient({ apiUrl: c.apiUrl, token: c.token, timeoutMs: c.timeoutMs, readAttempts: 2, backoffMs: c.backoffMs, ...(fetchImpl ? { fetchImpl } : {}) });
  try {
    await client.checkToken();
    findings.push({ status: "ok", check: "api", message: `${c.apiUrl} answers and accepts the token` });
  } catch (e) {
    const err = e instanceof CloudesireError ? e : null;
    const refused = err?.status === 401 || err?.status === 403;
    findings.push({ status: "fail", check: "api", message: refused ? `${c.apiUrl} refuses the token (${err?.status}): issue a new one in the vendor profile` : `${c.apiUrl} cannot be used: ${e instanceof Error ? e.message : String(e)}` });
  }
  return findings;
}
