import { loadCliConfig } from "../config.js";

/** Bad usage or bad input: exit code 2. */
export class UsageError extends Error {}
/** The service answered with an error (exit 2 for 4xx, 1 for 5xx) or could not be reached (exit 3). */
export class ServiceError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** The operator's HTTP client of a running service (TENANTCTL_URL, operator token from env or DATA_DIR). */
export class ServiceClient {
  private readonly c = loadCliConfig();

  async request(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    if (!this.c.token) throw new UsageError(`no operator token: set OPERATOR_TOKEN or run the service once with DATA_DIR=${this.c.dataDir}`);
    let res: Response;
    try {
      res = await fetch(`${this.c.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.c.token}`,
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
          ...init.headers,
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } catch {
      throw new ServiceError(`cannot reach the service at ${this.c.url} (is 'tenantctl serve' running? set TENANTCTL_URL)`, 3);
    }
    if (!res.ok) {
      const p = (await res.json().catch(() => ({}))) as { title?: string; detail?: unknown };
      const detail = p.detail === undefined ? "" : `: ${typeof p.detail === "string" ? p.detail : JSON.stringify(p.detail)}`;
      throw new ServiceError(`${res.status} ${p.title ?? res.statusText}${detail}`, res.status < 500 ? 2 : 1);
    }
    return res;
  }

  /** The answer's body, typed by the caller with the route's response schema (cli.ts `Body<typeof S.X>`). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.request(method, path, body === undefined ? {} : { body })).json() as Promise<T>;
  }

  async text(path: string): Promise<string> {
    return (await this.request("GET", path)).text();
  }
}
