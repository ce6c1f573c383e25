import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { invalid } from "../domain/errors.js";

/**
 * hono's bodyLimit without its cost in the common case: it reads `c.req.raw.body`, which makes
 * @hono/node-server build a whole fetch Request (with a stream) for every request, a good part of a
 * webhook's CPU. A body with a Content-Length and no Transfer-Encoding is bounded by that header (Node's
 * parser reads exactly that many bytes); any other body (chunked, or a Request built in process) is
 * counted as it streams, by hono's own middleware.
 */
export function boundedBody(maxSize: number, onError: (c: Context) => Response | Promise<Response>): MiddlewareHandler {
  const counting = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    const length = c.req.header("content-length");
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) return counting(c, next);
    return Number(length) <= maxSize ? next() : onError(c);
  };
}

/**
 * For a route whose required body's schema accepts `{}` (every field optional): a request with no JSON
 * body at all is refused (422) rather than read as `{}` (hono's json validator reads a request without a
 * Content-Type as an empty object).
 */
export const jsonBodyRequired: MiddlewareHandler = async (c, next) => {
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(c.req.header("content-type") ?? "")) throw invalid("a JSON body is required (Content-Type: application/json)", [{ path: "", message: "no JSON body" }]);
  await next();
};
