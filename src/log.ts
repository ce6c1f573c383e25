import { pino, type DestinationStream } from "pino";

/**
 * Structured logs: pino, one JSON line per record, to stderr. Secrets are kept out by configuration,
 * twice over: the field paths below are censored whatever they hold, and every line is passed, before it
 * is written, through the redactor built from the secret values the service knows (admin password,
 * passphrase, tokens, webhook secret), so a secret that slips into an error message is still not written.
 */
export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export type Redactor = (text: string) => string;

export const REDACTED = "[redacted]";

/** Field names censored at any of the first two levels of a record. */
const SECRET_FIELDS = [
  "password", "passphrase", "secret", "token", "authorization", "signature", "credentials",
  "credentialsToken", "OS_PASSWORD", "PULUMI_CONFIG_PASSPHRASE", "WEBHOOK_SECRET", "OPERATOR_TOKEN",
];
export const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`), 'headers["x-signature"]', "headers.authorization"];

export function makeRedactor(secrets: Iterable<string | undefined>): Redactor {
  const values = [...secrets].filter((s): s is string => typeof s === "string" && s.length >= 4);
  // Longest first, so a secret that contains another is removed whole.
  values.sort((a, b) => b.length - a.length);
  return (text) => values.reduce((t, s) => t.split(s).join(REDACTED), text);
}

export function createLogger(opts: { redact: Redactor; write?: (line: string) => void; level?: Level }): Logger {
  const destination: DestinationStream = opts.write
    ? { write: (line: string) => opts.write?.(line.replace(/\n$/, "")) }
    : pino.destination({ fd: 2, sync: true });
  const p = pino(
    {
      level: opts.level ?? "info",
      base: { service: "openstack-tenants" },
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      hooks: { streamWrite: (line) => opts.redact(line) },
    },
    destination,
  );
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
  };
}
