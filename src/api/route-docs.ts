import { type OpenAPIHono, z } from "@hono/zod-openapi";
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
export const TOO_MANY_FAILURES = problem("too many failed authentications from this source");

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

/**
 * The answers every route of a kind can give, documented once for all of them (a route's own description
 * wins): 429 where a token is checked (a source past AUTH_FAILURES_PER_MINUTE waits, right token or not:
 * app.ts `authenticated`); 422 where a query, header or body is validated (problem.ts validationHook; a
 * bad path id is a 404); 400 and 415 where a body is read (malformed JSON; a media type not declared).
 */
export function documentCommonAnswers(registry: OpenAPIHono["openAPIRegistry"]): void {
  for (const def of registry.definitions) {
    if (def.type !== "route") continue;
    const { route } = def;
    const answers: Record<string | number, unknown> = route.responses;
    if ((route.security ?? []).some((s) => Object.keys(s).length > 0)) answers[429] ??= TOO_MANY_FAILURES;
    if (route.request?.query || route.request?.headers || route.request?.body) answers[422] ??= problem("the request does not match the schema: the problem's `detail` says where");
    if (route.request?.body) {
      const media = Object.keys(route.request.body.content);
      if (media.some((m) => m.includes("json"))) answers[400] ??= problem("the body is not well-formed JSON");
      answers[415] ??= problem(`a Content-Type other than ${media.join(" or ")}`);
    }
  }
}
