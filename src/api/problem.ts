import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { AppError, invalid, notFound, type ErrorKind } from "../domain/errors.js";
import type { Logger } from "../log.js";
import { RateLimited } from "./rate-limit.js";
import { EngineFailure } from "../provisioning/engine.js";

/** The one place where failures become HTTP statuses (RFC 9457 problem bodies). */
const STATUS: Record<ErrorKind, ContentfulStatusCode> = {
  bad_request: 400,
  invalid: 422,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_many_requests: 429,
  upstream: 502,
  unavailable: 503,
};

export function problemResponse(c: Context, status: ContentfulStatusCode, title: string, detail?: unknown) {
  return c.json({ type: "about:blank", title, status, ...(detail === undefined ? {} : { detail }) }, status, {
    "content-type": "application/problem+json",
  });
}

export function onError(log: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof RateLimited) c.header("retry-after", String(err.retryAfterSeconds));
    if (err instanceof AppError) return problemResponse(c, STATUS[err.kind], err.message, err.detail);
    if (err instanceof EngineFailure) {
      // The engine's message is already redacted; it is what an operator needs to act.
      return problemResponse(c, err.transient ? 503 : 502, "the provisioning engine failed", err.message);
    }
    if (err instanceof HTTPException) {
      // @hono/zod-openapi's media type gate says only "Unsupported Media Type": every body here is JSON.
      if (err.status === 415) {
        const sent = c.req.header("content-type");
        return problemResponse(c, 415, `unsupported Content-Type${sent ? ` '${sent.slice(0, 100)}'` : " (none sent)"}: send the body as application/json`);
      }
      return problemResponse(c, err.status as ContentfulStatusCode, err.message || "request refused");
    }
    // A bug or a dependency down: log the cause (redacted by the logger), show no internals.
    log.error("unhandled error", { method: c.req.method, path: c.req.path, error: err.message, stack: err.stack });
    return problemResponse(c, 500, "internal error");
  };
}

const issuesOf = (e: ZodError) => e.issues.map((i) => ({ path: i.path.join("."), message: i.message }));

/**
 * What a failed request validation becomes: an unsafe or unknown id in the path is "not found" (no
 * such thing can exist), anything else is 422 with the zod issues. Thrown, so onError maps it.
 */
export function validationHook(result: { success: true } | { success: false; error: ZodError; target: string }): void {
  if (result.success) return;
  if (result.target === "param") throw notFound("not found (the id in the path is not a valid id)");
  const where = result.target === "json" ? "body" : result.target;
  throw invalid(`${where} does not match the schema`, issuesOf(result.error));
}
