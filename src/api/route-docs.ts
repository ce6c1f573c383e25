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
export const UNAUTHORIZED = problem("operator bearer token (or console session) missing, unknown or revoked");
export const FORBIDDEN = problem("the operator's role does not allow this (the problem says which role is needed), or a console session's unsafe request without its X-CSRF-Token");

/**
 * The common part of an operator route on one subscription: its role check (made before the path is
 * validated) and audit, the `{id}` parameter, and the 401, 403 and 404 every such route can answer.
 */
export function onSubscription<M extends MiddlewareHandler, R extends { responses: Record<number, unknown> }>(middleware: M[], route: R) {
  return {
    ...route,
    security: OPERATOR,
    middleware,
    request: { params: SubscriptionParams },
    responses: { 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND, ...route.responses },
  };
}
