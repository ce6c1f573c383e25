/**
 * Structured JSON logs, one line per record, to stderr. Every string that leaves through here passes
 * the redactor built from the configured secrets (admin password, passphrase, tokens), so a secret that
 * slips into an error message is still not written.
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

const REDACTED = "[redacted]";
/** Field names whose values are never logged, whatever they hold. */
const SECRET_KEYS = /pass(word|phrase)?|secret|token|authorization|signature|credential/i;

export function makeRedactor(secrets: Iterable<string | undefined>): Redactor {
  const values = [...secrets].filter((s): s is string => typeof s === "string" && s.length >= 4);
  values.sort((a, b) => b.length - a.length);
  return (text) => values.reduce((t, s) => t.split(s).join(REDACTED), text);
}

export function createLogger(opts: { redact: Redactor; write?: (line: string) => void; level?: Level }): Logger {
  const order: Level[] = ["debug", "info", "warn", "error"];
  const min = order.indexOf(opts.level ?? "info");
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (order.indexOf(level) < min) return;
    const record = { time: new Date().toISOString(), level, msg, ...fields };
    const json = JSON.stringify(record, (k, v: unknown) => (k !== "" && SECRET_KEYS.test(k) && v !== null && typeof v !== "object" ? REDACTED : v));
    write(opts.redact(json));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
