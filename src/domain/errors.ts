/**
 * Expected failures, as values a user can act on. The HTTP layer maps each kind to a status in one
 * place (api/problem.ts); nothing else decides status codes.
 */
export type ErrorKind =
  | "bad_request"
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_many_requests"
  | "upstream"
  | "unavailable";

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Extra, non-secret detail for the problem body (for example zod issues). */
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const badRequest = (message: string, detail?: unknown) => new AppError("bad_request", message, detail);
export const invalid = (message: string, detail?: unknown) => new AppError("invalid", message, detail);
export const notFound = (message: string) => new AppError("not_found", message);
export const conflict = (message: string, detail?: unknown) => new AppError("conflict", message, detail);
export const unauthorized = (message: string) => new AppError("unauthorized", message);
/** Known, but not allowed to do this (an operator lacking the role, a missing CSRF token). */
export const forbidden = (message: string) => new AppError("forbidden", message);
export const upstream = (message: string, detail?: unknown) => new AppError("upstream", message, detail);
export const unavailable = (message: string) => new AppError("unavailable", message);

/**
 * A stored subscription record no rule of this version reads (an older rule wrote it, or a hand edit):
 * it is isolated and named (/healthz, the fleet view) while every other record is served (issue 31).
 */
export class UnreadableRecord extends AppError {
  constructor(
    readonly subscription: string,
    readonly reason: string,
  ) {
    super("conflict", `subscription ${subscription}'s stored record cannot be read: ${reason}; it is set aside (named in /healthz) until it is repaired`);
  }
}
