import type { Db } from "./db.js";

/**
 * How many password resets were done through each subscription's links (domain/password-reset.ts): the
 * link generation. A reset ends its generation in the transaction that asks for the new password, and only
 * if it is still the current one, so two submissions of one form reset once.
 */
export class PasswordResets {
  constructor(private readonly db: Db) {}

  async generation(subscriptionId: string): Promise<number> {
    const [row] = await this.db.query<{ generation: number }>("SELECT generation FROM password_reset_links WHERE subscription_id = $1", [subscriptionId]);
    return row?.generation ?? 0;
  }

  /** Ends generation `generation` (the next one begins); false when it had already ended (a link or form used already). */
  async consume(tx: Db, subscriptionId: string, generation: number): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO password_reset_links (subscription_id, generation) SELECT $1, 1 WHERE $2::integer = 0
       ON CONFLICT (subscription_id) DO NOTHING RETURNING 1`,
      [subscriptionId, generation],
    );
    if (rows.length > 0) return true;
    const updated = await tx.query(
      "UPDATE password_reset_links SET generation = generation + 1, used_at = now() WHERE subscription_id = $1 AND generation = $2 RETURNING 1",
      [subscriptionId, generation],
    );
    return updated.length > 0;
  }
}
