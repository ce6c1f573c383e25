/**
 * Decides whether an engine error is worth retrying, from what Pulumi and the OpenStack provider print.
 * Pure, so the rules are unit-tested on real messages.
 */
const TRANSIENT_PATTERNS: RegExp[] = [
  /the stack is currently locked/i, // another update holds the lock: wait and retry, never break it
  /\bconflict: another update is currently in progress/i,
  /Expected HTTP response code \[[^\]]*\] .*?returned (5\d\d)\b/i,
  /\bstatus(?: code)?:? 50[0234]\b/i,
  /\b50[234] (Bad Gateway|Service Unavailable|Gateway Time-?out)\b/i,
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH)\b/,
  /connection refused|i\/o timeout|TLS handshake timeout|context deadline exceeded/i,
];

export function isTransientEngineError(message: string): boolean {
  return TRANSIENT_PATTERNS.some((p) => p.test(message));
}

/** The last meaningful lines of a long CLI error: enough to act on, short enough to show in the API. */
export function conciseError(message: string, maxLength = 2000): string {
  const lines = message.split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
  const errorLines = lines.filter((l) => /error/i.test(l));
  const chosen = (errorLines.length > 0 ? errorLines : lines).slice(-8).join("\n");
  return chosen.length > maxLength ? `…${chosen.slice(-maxLength)}` : chosen;
}
