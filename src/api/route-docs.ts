import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { Problem, SubscriptionParams } from "./schemas.js";

/** How routes document their answers in /openapi.json: the same few shapes everywhere. */
export const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
  description,
  content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});
export const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: Problem } } });
export const text = (description: string, mediaType = "text/plain") => ({ description, content: { [mediaType]: { schema: z.string() } } });
export const OPERATOR = [{ operatorToken: [] }];
export const NOT_FOUND = problem("no such subscription");
export const UNAUTHORIZED = problem("operator bearer token missing or wrong");

/**
 * The common part of an operator route on one subscription: the operator token (checked before the
 * path is validated), the `{id}` parameter, and the 401 and 404 every such route can answer.
 */
export function onSubscription<M extends MiddlewareHandler, R extends { responses: Record<number, unknown> }>(operator: M, route: R) {
  return {
    ...route,
    security: OPERATOR,
    middleware: [operator],
    request: { params: SubscriptionParams },
    responses: { 401: UNAUTHORIZED, 404: NOT_FOUND, ...route.responses },
  };
}
