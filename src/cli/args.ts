import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./client.js";

/**
 * tenantctl's command line, parsed strictly (Node's util.parseArgs): `--flag value` and `--flag=value`,
 * an unknown option or a missing value refused with the valid ones listed, values checked before any
 * request is made. Every command declares its options here; usage and per-command help come from the
 * same declarations, so they cannot disagree with what is accepted.
 */
export interface OptionSpec {
  /** A value's name in usage (`N`, `P`); none: a boolean flag. */
  value?: string;
  /** The values allowed (listed in help and in refusals). */
  values?: readonly string[];
  /** Why a value is refused, or null. */
  check?: (value: string) => string | null;
  help: string;
}

export interface CommandSpec {
  /** One word, or two for a subcommand (`drift repair`). */
  name: string;
  /** Positional arguments in usage: `<id>`, `[<id>]`. */
  args?: string;
  positionals?: { min: number; max: number };
  summary: string;
  options?: Record<string, OptionSpec>;
}

/** Options every command takes. */
const GLOBAL: Record<string, OptionSpec & { short?: string }> = {
  json: { help: "machine-readable output on stdout" },
  help: { help: "this command's usage", short: "h" },
};

export interface Parsed {
  command: CommandSpec;
  positionals: string[];
  /** Options given, by name without dashes. */
  options: Record<string, string | boolean | undefined>;
  json: boolean;
  help: boolean;
}

const optionUsage = (name: string, o: OptionSpec) => `[--${name}${o.value ? ` ${o.values && o.values.length <= 3 ? o.values.join("|") : o.value}` : ""}]`;

/** `list [--phase P] ...`: one command's usage line. */
export function usageLine(c: CommandSpec): string {
  return [c.name, c.args ?? "", ...Object.entries(c.options ?? {}).map(([n, o]) => optionUsage(n, o))].filter((w) => w !== "").join(" ");
}

/** A command's help: usage, summary, every option with its values. */
export function commandHelp(c: CommandSpec): string {
  const lines = [`usage: tenantctl ${usageLine(c)} [--json]`, "", `  ${c.summary}`, ""];
  for (const [n, o] of Object.entries({ ...(c.options ?? {}), ...GLOBAL })) {
    const flag = `${"short" in o && o.short ? `-${o.short}, ` : ""}--${n}${o.value ? ` ${o.value}` : ""}`;
    lines.push(`  ${flag.padEnd(24)} ${o.help}${o.values ? ` (one of: ${o.values.join(", ")})` : ""}`);
  }
  return lines.join("\n");
}

/** The command's words at the start of argv (global flags may come first), longest match. */
function commandOf(argv: readonly string[], commands: readonly CommandSpec[]): { command: CommandSpec | undefined; words: string[]; rest: string[] } {
  const at = argv.findIndex((a) => !a.startsWith("-"));
  const first = at < 0 ? undefined : argv[at];
  const second = at < 0 ? undefined : argv[at + 1];
  const two = first && second && !second.startsWith("-") ? commands.find((c) => c.name === `${first} ${second}`) : undefined;
  if (two) return { command: two, words: [first as string, second as string], rest: [...argv.slice(0, at), ...argv.slice(at + 2)] };
  const one = first ? commands.find((c) => c.name === first) : undefined;
  return { command: one, words: first ? [first] : [], rest: at < 0 ? [...argv] : [...argv.slice(0, at), ...argv.slice(at + 1)] };
}

/** The subcommands of a word (`drift` → `drift check`, `drift repair`, …). */
const familyOf = (commands: readonly CommandSpec[], word: string) => commands.filter((c) => c.name.startsWith(`${word} `)).map((c) => c.name);

/**
 * Parses argv against the commands. Throws UsageError for an unknown command, an unknown option, a
 * missing or refused value, or a wrong number of arguments; `undefined` command: none given (or help).
 */
export function parseCommandLine(argv: readonly string[], commands: readonly CommandSpec[]): Parsed | { command: undefined; topic: CommandSpec | undefined } {
  const { command, words, rest } = commandOf(argv, commands);
  if (!command) {
    const [word, ...more] = words;
    if (word === undefined || word === "help") {
      // `tenantctl help list`: the help of a command.
      const topicWords = word === "help" ? rest.filter((a) => !a.startsWith("-")) : [];
      const topic = commands.find((c) => c.name === topicWords.slice(0, 2).join(" ")) ?? commands.find((c) => c.name === topicWords[0]);
      if (topicWords.length > 0 && !topic) throw new UsageError(`no command '${topicWords.join(" ")}': tenantctl help lists them`);
      return { command: undefined, topic };
    }
    const family = familyOf(commands, word);
    const sub = more[0] ?? rest.find((a) => !a.startsWith("-"));
    if (family.length > 0) throw new UsageError(`${sub === undefined ? `${word} needs a command` : `unknown ${word} command '${sub}'`}: one of ${family.join(" | ")}`);
    throw new UsageError(`unknown command '${word}' (tenantctl help lists them)`);
  }
  const specs = { ...(command.options ?? {}), ...GLOBAL };
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [n, o] of Object.entries(specs)) options[n] = { type: o.value ? "string" : "boolean", ...("short" in o && o.short ? { short: o.short } : {}) };
  const valid = () => Object.entries(specs).map(([n, o]) => `--${n}${o.value ? ` ${o.value}` : ""}`).join(", ");
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const m = (e as Error).message;
    const named = /'(-{1,2}[^'\s=]+)/.exec(m)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${named} for '${command.name}': valid are ${valid()}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const spec = specs[named.replace(/^-+/, "")];
      if (spec && !spec.value) throw new UsageError(`${named} takes no value`);
      throw new UsageError(`${named} needs a value${spec?.values ? ` (one of: ${spec.values.join(", ")})` : spec?.value ? ` (${spec.value})` : ""}`);
    }
    throw new UsageError(m);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  if (!help) {
    for (const [n, v] of Object.entries(values)) {
      const spec = specs[n];
      if (typeof v !== "string" || !spec) continue;
      if (spec.values && !spec.values.includes(v)) throw new UsageError(`--${n} '${v}' is not one of: ${spec.values.join(", ")}`);
      const why = spec.check?.(v);
      if (why) throw new UsageError(`--${n} '${v}': ${why}`);
    }
    const { min, max } = command.positionals ?? { min: 0, max: 0 };
    const n = parsed.positionals.length;
    const family = familyOf(commands, command.name).filter((f) => f !== command.name);
    if (n > max && family.length > 0) throw new UsageError(`unknown ${command.name} command '${parsed.positionals[max]}': one of ${[command.name, ...family].join(" | ")}`);
    if (n < min || n > max) {
      const extra = n > max ? `: '${parsed.positionals[max]}' is not expected` : "";
      throw new UsageError(`usage: tenantctl ${usageLine(command)}${extra}`);
    }
  }
  return { command, positionals: parsed.positionals, options: values, json: values.json === true, help };
}

/** Whole numbers in a range, as a check. */
export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) => (v: string): string | null =>
  /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? null : `a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""} is expected`;
