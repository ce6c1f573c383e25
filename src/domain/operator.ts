import { z } from "zod";

/**
 * Who may do what (issue 23): `viewer` reads; `operator` also acts on tenants (retries, repairs,
 * rotations, previews, rollouts); `admin` also bills, resends dead letters and manages operators.
 * Each role can do everything the roles before it can.
 */
export const Role = z.enum(["viewer", "operator", "admin"]);
export type Role = z.infer<typeof Role>;

/** Whether a caller with role `has` may do what needs `needs`. */
export const roleAllows = (has: Role, needs: Role): boolean => Role.options.indexOf(has) >= Role.options.indexOf(needs);

/**
 * An operator's name: what the audit trail and the stack history say did a thing, so a short word in a
 * safe alphabet (lowercase letters, digits, dashes, dots; a letter or digit first), at most 64 characters.
 */
export const OPERATOR_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{0,63}$/;
export const OPERATOR_NAME_RULE = "an operator name is 1-64 lowercase letters, digits, dashes or dots, starting with a letter or digit";
export const OperatorName = z.string().regex(OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE);
export type OperatorName = z.infer<typeof OperatorName>;

/** OPERATOR_TOKEN (or the generated DATA_DIR/operator-token): an admin by this name, never stored, never revoked. */
export const ROOT_OPERATOR = "root";

/**
 * Why a new operator may not take `name` (null: it may). In the audit trail a name is read by a person:
 * `root.`, `root-` or `r.oot` read as root there (issue 31), so a new name ends with a letter or digit, has
 * no two separators in a row, and is not root with separators added. Names already given keep working
 * (they are still revoked by name): this is the rule for new ones.
 */
export function newOperatorNameProblem(name: string): string | null {
  if (name.replace(/[.-]/g, "") === ROOT_OPERATOR) return `${name} reads as root (OPERATOR_TOKEN's name) in the audit trail: choose another`;
  if (/[.-]$/.test(name)) return "an operator name ends with a letter or digit";
  if (/[.-]{2}/.test(name)) return "an operator name has no two dashes or dots in a row";
  return null;
}

/** Who is calling: set on the request by the role check. */
export const OperatorIdentity = z.object({ name: z.string(), role: Role });
export type OperatorIdentity = z.infer<typeof OperatorIdentity>;

/** The refusal of a known operator lacking the role (403): says what is needed and what the caller has. */
export const roleRefusal = (needs: Role, who: OperatorIdentity): string =>
  `needs the ${needs} role; ${who.name} is ${who.role === "admin" || who.role === "operator" ? "an" : "a"} ${who.role}`;
