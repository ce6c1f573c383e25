import { AppError } from "../domain/errors.js";
import { AdminSession } from "../openstack/admin-session.js";
import { readAdminCredentials, type AdminCredentials } from "../openstack/credentials.js";
import { EngineFailure } from "./engine.js";

/**
 * How the OpenStack provider inside each `pulumi` run authenticates: with a Keystone token the engine holds,
 * never with the admin password.
 *
 * Measured on the test cloud (bench/real-engine.ts): with the password, every provider start is a password
 * login (`POST /v3/auth/tokens`, Keystone's bcrypt: 0.3-0.5 s of its CPU) and a new token that Nova, Cinder and
 * Neutron each validate again (`GET /v3/auth/tokens`, their keystonemiddleware caches per token): five of a
 * purchase's seventeen Keystone requests, and the largest ones. Eight purchases at once queued on Keystone.
 * With one token handed to every run, the provider only reads it back and the services' caches answer.
 *
 * The token goes through as it is: gophercloud's v3auth passes a token through (one `GET /v3/auth/tokens`,
 * no new token) when it has no scope and re-authentication is off (gophercloud/v2 openstack/client.go,
 * "passthroughToken"; terraform-provider-openstack reads OS_TOKEN / OS_AUTH_TOKEN and OS_ALLOW_REAUTH,
 * openstack/provider.go v3.4.0). So the run's environment carries OS_AUTH_URL, OS_TOKEN, OS_ALLOW_REAUTH=false,
 * the region and the endpoint settings, and none of the variables that would make a scope or a login
 * (gophercloud/utils clientconfig reads every OS_* of its own: a stray OS_PROJECT_NAME would scope it).
 *
 * A token handed out lives at least half its lifetime more (30 minutes of Keystone's default hour): an update
 * that outlives it fails with Keystone's refusal and is retried with a new one.
 */
export class ProviderAuth {
  private readonly creds: AdminCredentials | null;
  private readonly session: AdminSession | null;

  constructor(
    /** The operator's OS_* variables (OS_CLOUD and clouds.yaml included) as the service was given them. */
    private readonly openstackEnv: Record<string, string>,
    o: { fetchImpl?: typeof fetch; now?: () => number } = {},
  ) {
    const read = readAdminCredentials(openstackEnv);
    this.creds = read.ok ? read.credentials : null;
    // An infinite margin is capped at half the token's lifetime (AdminSession): renewed at half-life.
    this.session = this.creds ? new AdminSession(this.creds, { ...o, renewMarginMs: Number.POSITIVE_INFINITY }) : null;
  }

  /**
   * The OpenStack part of a provider run's environment. Without readable admin credentials, the operator's
   * own variables as they are (the readiness check already says what is missing).
   */
  async env(): Promise<Record<string, string>> {
    if (!this.creds || !this.session) return { ...this.openstackEnv };
    let token: string;
    try {
      token = (await this.session.current()).token;
    } catch (e) {
      // A wrong password is for the operator to fix; Keystone out of reach is retried like any outage.
      if (e instanceof AppError) throw new EngineFailure(`the provider's Keystone token: ${e.message}`, e.kind !== "unauthorized");
      throw e;
    }
    const kept = Object.fromEntries(Object.entries(this.openstackEnv).filter(([k]) => !LOGIN_OR_SCOPE.test(k)));
    return {
      ...kept,
      OS_AUTH_URL: this.creds.authUrl,
      OS_TOKEN: token,
      OS_ALLOW_REAUTH: "false",
      ...(this.creds.regionName ? { OS_REGION_NAME: this.creds.regionName } : {}),
      // The provider's name for the interface (endpoint_type); the CLI's OS_INTERFACE is read by neither.
      OS_ENDPOINT_TYPE: this.creds.interface,
    };
  }

  /** The tokens a message must not show: the one held now. */
  secrets(): string[] {
    const held = this.session?.peek();
    return held ? [held] : [];
  }

  /**
   * A run failed; if Keystone refused the token (revoked before its expiry: a password change, a token
   * flush), the next run logs in again instead of handing out the same dead token until its half-life.
   */
  failed(message: string): void {
    const held = this.session?.peek();
    if (held && tokenRefused(message)) this.session?.discard(held);
  }
}

/**
 * What would make gophercloud log in or scope instead of passing the token through: the login's own
 * variables, every scope (project, domain, system), the other methods, and a clouds.yaml cloud (whose auth
 * section is a login). OS_CLIENT_CONFIG_FILE stays: a target in another cloud names its cloud in the program.
 */
const LOGIN_OR_SCOPE =
  /^OS_(?:CLOUD|AUTH_TYPE|AUTH_URL|USERNAME|USER_ID|PASSWORD|TOKEN|AUTH_TOKEN|ALLOW_REAUTH|PROJECT_NAME|PROJECT_ID|TENANT_NAME|TENANT_ID|USER_DOMAIN_NAME|USER_DOMAIN_ID|PROJECT_DOMAIN_NAME|PROJECT_DOMAIN_ID|DOMAIN_NAME|DOMAIN_ID|DEFAULT_DOMAIN|SYSTEM_SCOPE|APPLICATION_CREDENTIAL_[A-Z]+|INTERFACE|ENDPOINT_TYPE|REGION_NAME)$/;

/**
 * Keystone refusing the token, as gophercloud prints it: 401 on any call ("Authentication failed",
 * ErrDefault401), and the passthrough's `GET /v3/auth/tokens` of a token it no longer knows (404).
 */
const TOKEN_REFUSED = /Authentication failed|but got 401 instead|auth\/tokens\], but got 404 instead|The request you have made requires authentication/;

/** Whether a run failed on Keystone refusing its token: worth a retry, with a new one. */
export const tokenRefused = (message: string): boolean => TOKEN_REFUSED.test(message);
