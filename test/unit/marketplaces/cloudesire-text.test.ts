import { afterEach, describe, expect, it } from "vitest";
import { storableText } from "../../../src/domain/storable.js";
import { cloudesireScene, settled, until } from "../../support/cloudesire-scene.js";

/**
 * Issue 31 §4: text read from Cloudesire was not checked for what the database stores. MyUserDTO's names
 * are free Java Strings (UTF-16): a name cut at 255 code units inside an emoji left a lone surrogate, and one
 * holding NUL made every read fail ("unsupported Unicode escape sequence"): the order was never provisioned.
 */
let scene: Awaited<ReturnType<typeof cloudesireScene>> | undefined;
afterEach(async () => {
  await scene?.close();
  scene = undefined;
});

const deployed = (id: number) => scene!.sim.patches.some((p) => p.subscription === id && p.deploymentStatus === "DEPLOYED");

describe("text read from Cloudesire", { timeout: 180_000 }, () => {
  it.each([
    ["a name of 300 characters whose 255th is an emoji", { fullName: `${"a".repeat(254)}😀${"b".repeat(45)}` }, `${"a".repeat(254)}`, /longer than 255/],
    ["a name holding NUL", { fullName: "Ada\u0000 Lovelace" }, "Ada Lovelace", /NUL/],
    ["a name holding a lone surrogate", { fullName: "Ada \uD83D Lovelace" }, "Ada \uFFFD Lovelace", /lone UTF-16 surrogate/],
  ])("%s: the order is provisioned, the name cleaned, and the read says what was done", async (_what, buyer, stored, note) => {
    scene = await cloudesireScene();
    const { sim, h } = scene;
    sim.addUser(3401, buyer);
    sim.order(5021, { type: "TRIAL", buyer: 3401 });
    await sim.notify(5021, "CREATED");
    await until(() => deployed(5021), "DEPLOYED of 5021");
    await settled(scene, "5021");
    expect((await h.store.get("5021"))?.desired.customer.name).toBe(stored);
    const rec = await h.cloudesire.store.get("5021");
    expect(rec?.lastError).toBeNull();
    const reads = await h.db.query<{ verdict: string }>("SELECT last_read->>'verdict' AS verdict FROM cloudesire_subscriptions WHERE id = '5021'");
    expect(h.logs.some((l) => l.includes("buyer's name") && note.test(l))).toBe(true);
    expect(reads[0]?.verdict).toMatch(note);
  });

  it("is cut on characters, never inside one, and never longer than asked in UTF-16 code units", () => {
    const flag = "🇮🇹"; // two code points, four code units: one character
    expect(storableText(`${"x".repeat(253)}${flag}`, 255)).toEqual({ text: "x".repeat(253), cleaned: [expect.stringMatching(/longer than 255/)] });
    expect(storableText("é".normalize("NFD").repeat(3), 5).text).toBe("é".normalize("NFD").repeat(2));
    expect(storableText("plain", 255)).toEqual({ text: "plain", cleaned: [] });
    expect(storableText("\u0000", 255)).toEqual({ text: "", cleaned: [expect.stringMatching(/NUL/)] });
  });
});
