import { z } from "@hono/zod-openapi";
import { Problem } from "./schemas.js";

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
