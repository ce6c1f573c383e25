/**
 * Decides whether an engine error is worth retrying, from what Pulumi and the OpenStack provider print.
 * Pure, so the rules are unit-tested on real messages (test/fixtures/engine-errors.ts says where each
 * text comes from).
 */
const TRANSIENT_PATTERNS: RegExp[] = [
  // pulumi/pulumi pkg/backend/diy/lock.go: another update holds the lock: wait and retry, never break it.
  /the stack is currently locked by/i,
  // The Pulumi Cloud backend's refusal of a concurrent update (the automation SDK's errors.js).
  /\bconflict: another update is currently in progress/i,
  // gophercloud v1.8.0 errors.go (the provider's HTTP client): 500, 502, 503, 504, 408 and 429 print these
  // texts and never their status code.
  /\bInternal Server Error\b/,
  /\bBad Gateway\b/,
  /The service is currently unable to handle the request due to a temporary overloading or maintenance/,
  /\bGateway Timeout\b/,
  /The server timed out waiting for the request/,
  /Too many requests have been sent in a given amount of time/,
  // Its ErrUnexpectedResponseCode, for a status printed as a number.
  /Expected HTTP response code \[[^\]]*\] when accessing \[[^\]]*\], but got (?:408|429|500|502|503|504) instead/,
  // HTTP status lines and SDK status fields (state backends, plugin downloads).
  /\b50[0234] (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)\b/i,
  /\bstatus ?(?:code)?:? 50[0234]\b/i,
  // Go's net/http and net errors, which gophercloud returns as they are: `Post "<url>": dial tcp …: …`.
  /connect: connection refused|connection reset by peer|no route to host|network is unreachable|i\/o timeout|TLS handshake timeout|context deadline exceeded|server misbehaving/i,
  /\b(?:Get|Post|Put|Patch|Delete|Head) "[^"]+": (?:unexpected )?EOF\b/,
  // Node's own network errors.
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH)\b/,
];

export function isTransientEngineError(message: string): boolean {
  return TRANSIENT_PATTERNS.some((p) => p.test(message));
}

/**
 * What to show of a long CLI error: the "Diagnostics:" of Pulumi's output when there are some (the
 * provider's own message, under the resource it concerns), else the last lines that say "error".
 * Bounded, to fit the API.
 */
export function conciseError(message: string, maxLength = 2000): string {
  const diagnostics = lastDiagnostics(message);
  let chosen: string;
  if (diagnostics) {
    chosen = diagnostics.join("\n");
  } else {
    const lines = withoutFraming(message);
    // The lock's owner line ("…json: created by user@host (pid N) at …", lock.go) says who to wait for.
    const errorLines = lines.filter((l) => /error/i.test(l) || /: created by \S+ \(pid \d+\) at /.test(l));
    chosen = (errorLines.length > 0 ? errorLines : lines).slice(-8).join("\n");
  }
  return chosen.length > maxLength ? `…${chosen.slice(-maxLength)}` : chosen;
}

/**
 * The output's lines without the automation SDK's framing ("code:", " stdout:", " stderr:", " err?: Error:",
 * execa's "Command failed with exit code N: <command>"), each once: the SDK's message carries the output
 * twice (see test/fixtures/engine-errors.ts).
 */
function withoutFraming(message: string): string[] {
  const lines = message
    .split("\n")
    .map((l) => l.replace(/^ (?:stdout|stderr): |^ err\?: (?:Error: )?/, "").trimEnd())
    .filter((l) => l.trim() !== "" && !/^code: -?\d+$/.test(l) && !/^Command failed with exit code \d+: /.test(l));
  return lines.filter((l, i) => lines.lastIndexOf(l) === i);
}

/**
 * Lines that only wrap the provider's message: go-multierror's "1 error occurred:" (as the terraform
 * bridge prints it, around "* creating <urn>: …"), and the stack's own "update failed".
 */
const WRAPPER_LINE =
  /^(?:error: update failed|error: \d+ errors? occurred:|\* (?:creating|updating|deleting|reading|refreshing|replacing|importing) urn:pulumi:\S+: \d+ errors? occurred:|pulumi:pulumi:Stack \(.*\):)$/;

/**
 * The last "Diagnostics:" section of the output (the automation SDK's message carries the CLI's output
 * twice), up to Pulumi's summary, without blank and wrapper lines; null when there is none.
 */
function lastDiagnostics(message: string): string[] | null {
  const marker = "\nDiagnostics:\n";
  const at = message.lastIndexOf(marker);
  if (at < 0) return null;
  const section = message.slice(at + marker.length).split("\n");
  const end = section.findIndex((l) => /^(?:Outputs|Resources|Duration):/.test(l) || l.startsWith(" err?: ") || l.startsWith(" stderr: "));
  const kept = (end < 0 ? section : section.slice(0, end)).map((l) => l.trim()).filter((l) => l !== "" && !WRAPPER_LINE.test(l));
  return kept.length > 0 ? kept : null;
}
