import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { z } from "zod";

/**
 * A stack's config file (stacks/Pulumi.<stack>.yaml), written by the service itself instead of through
 * `pulumi config set` (each a CLI start of 0.3-0.7 s): the same file the CLI writes, so an operator's
 * `pulumi preview --stack sub-42` reads it as before.
 *
 * Secrets use the passphrase provider's own scheme (pulumi pkg/secrets/passphrase/manager.go and sdk
 * go/common/resource/config/crypt.go): `encryptionsalt` is `v1:<base64 8-byte salt>:<"pulumi" encrypted>`;
 * the key is PBKDF2-SHA256 of the passphrase over that salt, 1,000,000 iterations, 32 bytes; a value is
 * `v1:<base64 12-byte nonce>:<base64 AES-256-GCM ciphertext and tag>`. `pulumi stack init` keeps a salt the
 * file already holds (NewPromptingPassphraseSecretsManager: "If we have a salt, we can just use it").
 */
const SALT_CHECK = "pulumi";
const derive = promisify(pbkdf2);

export class PassphraseCrypter {
  constructor(private readonly key: Buffer) {}

  encrypt(value: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    const sealed = Buffer.concat([cipher.update(value, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `v1:${nonce.toString("base64")}:${sealed.toString("base64")}`;
  }

  /** The value, or null when it is not this key's (another passphrase or salt) or not in this scheme. */
  decrypt(text: string): string | null {
    const [version, nonce, sealed] = text.split(":");
    if (version !== "v1" || !nonce || !sealed) return null;
    const bytes = Buffer.from(sealed, "base64");
    if (bytes.length < 16) return null;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(nonce, "base64"));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString("utf8");
    } catch {
      return null;
    }
  }
}

/**
 * The crypters of one passphrase, one per salt, derived once each (PBKDF2's million rounds cost 0.4-0.9 s of
 * CPU, off the event loop). New files get the keyring's own salt, so a host derives one key for every stack
 * it creates.
 */
export class PassphraseKeyring {
  private readonly bySalt = new Map<string, Promise<PassphraseCrypter>>();
  private own: Promise<{ state: string; crypter: PassphraseCrypter }> | undefined;

  constructor(private readonly passphrase: string) {}

  private crypterFor(salt: string): Promise<PassphraseCrypter> {
    let crypter = this.bySalt.get(salt);
    if (!crypter) {
      crypter = derive(this.passphrase, Buffer.from(salt, "base64"), 1_000_000, 32, "sha256").then((key) => new PassphraseCrypter(key));
      this.bySalt.set(salt, crypter);
    }
    return crypter;
  }

  /** The crypter of an `encryptionsalt` state; an error when the passphrase is not the one it was made with. */
  async forState(state: string): Promise<PassphraseCrypter> {
    const [version, salt] = state.split(":");
    if (version !== "v1" || !salt) throw new Error(`the stack config's encryptionsalt is not a passphrase salt (v1:…)`);
    const crypter = await this.crypterFor(salt);
    if (crypter.decrypt(state.slice(state.indexOf(":", 3) + 1)) !== SALT_CHECK) {
      throw new Error("the stack config's encryptionsalt was made with another passphrase than PULUMI_CONFIG_PASSPHRASE");
    }
    return crypter;
  }

  /** A salt state for a new stack config file, and its crypter. */
  fresh(): Promise<{ state: string; crypter: PassphraseCrypter }> {
    this.own ??= (async () => {
      const salt = randomBytes(8).toString("base64");
      const crypter = await this.crypterFor(salt);
      return { state: `v1:${salt}:${crypter.encrypt(SALT_CHECK)}`, crypter };
    })();
    return this.own;
  }
}

/** The parts of a stack config file the service reads; everything else in it is kept as it is. */
const StackConfigFile = z
  .object({
    encryptionsalt: z.string().optional(),
    config: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();
const Secure = z.object({ secure: z.string() });

/** The `encryptionsalt` of a stack config file, if it exists and has one. */
export function stackConfigSalt(file: string): string | undefined {
  return existsSync(file) ? StackConfigFile.parse(parseYaml(readFileSync(file, "utf8")) ?? {}).encryptionsalt : undefined;
}

/**
 * Writes `values` (plain) and `secrets` (encrypted) into a stack config file, keeping its salt and anything
 * else it holds. A secret whose stored ciphertext already decrypts to the same value is left as it is, and a
 * file with nothing to change is not written: an update that changes nothing leaves the file untouched.
 * Returns whether the file was written.
 */
export async function writeStackConfig(file: string, keyring: PassphraseKeyring, values: Record<string, string>, secrets: Record<string, string>): Promise<boolean> {
  const doc = existsSync(file) ? StackConfigFile.parse(parseYaml(readFileSync(file, "utf8")) ?? {}) : StackConfigFile.parse({});
  const { state, crypter } = doc.encryptionsalt ? { state: doc.encryptionsalt, crypter: await keyring.forState(doc.encryptionsalt) } : await keyring.fresh();
  const config: Record<string, unknown> = { ...(doc.config ?? {}) };
  let changed = doc.encryptionsalt !== state;
  for (const [key, value] of Object.entries(values)) {
    if (config[key] !== value) {
      config[key] = value;
      changed = true;
    }
  }
  for (const [key, value] of Object.entries(secrets)) {
    const stored = Secure.safeParse(config[key]);
    if (!stored.success || crypter.decrypt(stored.data.secure) !== value) {
      config[key] = { secure: crypter.encrypt(value) };
      changed = true;
    }
  }
  if (!changed) return false;
  mkdirSync(dirname(file), { recursive: true });
  // Written whole, then renamed: a reader (the CLI of a concurrent preview) never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, stringifyYaml({ ...doc, encryptionsalt: state, config }), { mode: 0o600 });
  renameSync(tmp, file);
  return true;
}
