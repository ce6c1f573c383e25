import { describe, expect, it } from "vitest";
import { commandHelp, parseCommandLine, type Parsed } from "../../../src/cli/args.js";
import { COMMANDS, USAGE } from "../../../src/cli/commands.js";

const parse = (line: string) => parseCommandLine(line.split(" ").filter((w) => w !== ""), COMMANDS);
const parsed = (line: string) => parse(line) as Parsed;

describe("tenantctl's command line", () => {
  it("takes --flag=value as --flag value: list --phase=ready filters by phase", () => {
    expect(parsed("list --phase=ready").options.phase).toBe("ready");
    expect(parsed("list --phase ready --json").options).toMatchObject({ phase: "ready", json: true });
    expect(parsed("--json list --status=suspended").options).toMatchObject({ status: "suspended", json: true });
  });

  it("refuses an unknown option, naming the valid ones", () => {
    expect(() => parse("list --phse ready")).toThrow("unknown option --phse for 'list': valid are --phase P, --status S, --plan M, --target T, --limit N, --cursor C, --json, --help");
    expect(() => parse("show 1 --watch")).toThrow(/unknown option --watch for 'show'/);
  });

  it("refuses a phase, status, plan or state that does not exist, listing those that do", () => {
    expect(() => parse("list --phase=redy")).toThrow("--phase 'redy' is not one of: pending, applying, ready, failed, held, waiting, cancelled");
    expect(() => parse("list --plan monthly")).toThrow("--plan 'monthly' is not one of: payg, prepaid");
    expect(() => parse("list --status gone")).toThrow(/is not one of: active, suspended, cancelled/);
    expect(() => parse("drift --state odd")).toThrow(/is not one of: in_sync, drifted, accepted, failed/);
  });

  it("refuses a missing value, a value given to a flag, a bad number and a wrong count of arguments", () => {
    expect(() => parse("list --phase")).toThrow("--phase needs a value (one of: pending, applying, ready, failed, held, waiting, cancelled)");
    expect(() => parse("list --json=yes")).toThrow("--json takes no value");
    expect(() => parse("watch 1 --op=x")).toThrow("--op 'x': a whole number from 1 is expected");
    expect(() => parse("list --limit 0")).toThrow(/--limit '0'/);
    expect(() => parse("bill --period 2026-13")).toThrow("--period '2026-13': a month as YYYY-MM is expected");
    expect(() => parse("show")).toThrow("usage: tenantctl show <id>");
    expect(() => parse("show 1 2")).toThrow("usage: tenantctl show <id>: '2' is not expected");
  });

  it("bill --rerate asks for a re-rating of the month; without it a bill is a plain bill; --rerate takes no value", () => {
    expect(parsed("bill --period 2026-10 --rerate").options).toMatchObject({ period: "2026-10", rerate: true });
    expect(parsed("bill --period=2026-10").options.rerate).toBeUndefined();
    expect(() => parse("bill --period 2026-10 --rerate=yes")).toThrow("--rerate takes no value");
    expect(commandHelp(parsed("bill --help").command)).toContain("--rerate");
  });

  it("names an unknown command or subcommand with the ones that exist", () => {
    expect(() => parse("frobnicate")).toThrow("unknown command 'frobnicate' (tenantctl help lists them)");
    expect(() => parse("drift frob")).toThrow("unknown drift command 'frob': one of drift | drift check | drift repair | drift accept");
    expect(() => parse("rollout")).toThrow(/^rollout needs a command: one of rollout plan \| rollout start/);
  });

  it("-h and help show the usage; --help after a command and help <command> show that command's options and values", () => {
    expect(parse("-h")).toEqual({ command: undefined, topic: undefined });
    expect(parse("")).toEqual({ command: undefined, topic: undefined });
    expect(parsed("list --help").help).toBe(true);
    expect(parsed("drift repair 1 -h").help).toBe(true);
    const topic = parse("help drift repair") as { topic: { name: string } };
    expect(topic.topic.name).toBe("drift repair");
    const help = commandHelp(parsed("list --help").command);
    expect(help).toContain("--phase P");
    expect(help).toContain("(one of: pending, applying, ready, failed, held, waiting, cancelled)");
    expect(USAGE).toMatch(/^ {2}drift repair <id> \[--watch\]/m);
  });
});
