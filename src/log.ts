import { pino, type DestinationStream } from "pino";

/**
 * Structured logs: pino, one JSON line per record, to stderr. Secrets are kept out before a record is
 * serialised: fields with a secret's name are censored at any depth, and every string (and key) is passed
 * through the redactor built from the secret values the service knows (admin password, passphrase,
 * tokens, webhook secrets), so a secret that slips into an error message is still not written. Doing it
 * before serialising matters: in the JSON line a secret holding `"`, `\` or a control character is
 * escaped and no longer matches its value. The written line is checked once more, for the values and
 * their escaped forms.
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

/** Field names censored at any depth of a record, whatever their case. */
const SECRET_FIELDS = new Set([
  "password", "passphrase", "secret", "token", "authorization", "signature", "credentials", "x-signature", "cookie",
  "credentialsToken", "OS_PASSWORD", "PULUMI_CONFIG_PASSPHRASE", "WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS", "BILLING_WEBHOOK_SECRET",
  "OPERATOR_TOKEN", "CUSTOMER_TOKEN_KEY", "METRICS_TOKEN",
].map((f) => f.toLowerCase()));

export function makeRedactor(secrets: Iterable<string | undefined>): Redactor {
  const values = [...secrets].filter((s): s is string => typeof s === "string" && s.length >= 4);
  // Each value also as a JSON string shows it (escaped), for the check of the written line.
  const forms = [...new Set(values.flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]))];
  // Longest first, so a secret that contains another is removed whole.
  forms.sort((a, b) => b.length - a.length);
  return (text) => forms.reduce((t, s) => t.split(s).join(REDACTED), text);
}

/** A copy of a record's fields with secret fields censored and known secret values replaced, at any depth. */
export function redactFields(value: unknown, redact: Redactor, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  if (value instanceof Error) return { type: value.name, message: redact(value.message), ...(value.stack ? { stack: redact(value.stack) } : {}) };
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, redact, seen));
  // What JSON.stringify would write for it (a Date, a Decimal): its toJSON.
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return redactFields((value as { toJSON(): unknown }).toJSON(), redact, seen);
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [redact(k), SECRET_FIELDS.has(k.toLowerCase()) ? REDACTED : redactFields(v, redact, seen)]),
  );
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
      hooks: { streamWrite: (line) => opts.redact(line) },
    },
    destination,
  );
  const write = (level: Level) => (m: string, f?: Fields) => {
    if (p.isLevelEnabled(level)) p[level](f ? (redactFields(f, opts.redact) as Fields) : {}, opts.redact(m));
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
