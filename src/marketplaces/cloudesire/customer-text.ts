import type { Quantities } from "../../domain/plan.js";

/**
 * What a Cloudesire customer reads, in the languages we write (English and Italian, Cloudesire's own).
 * docs/syndication.md asks for the instructions in every language the marketplace offers, in plain text
 * and without links (the `APP` endpoint is the link): the marketplace's languages are configuration
 * (CLOUDESIRE_LANGUAGES), and one we do not write gets the English text (`forMarketplace`). A user's
 * `language` (MyUserDTO) or an order's `language` (order validation) picks one where only one is shown.
 */
export const LANGUAGES = ["en", "it"] as const;
export type Lang = (typeof LANGUAGES)[number];
/** One text in every language. */
export type Localized = Record<Lang, string>;

/** `it`, `it-IT`, `it_IT` → it; anything else (or nothing) → en. */
export function langOf(language: string | null | undefined): Lang {
  const base = (language ?? "").slice(0, 2).toLowerCase();
  return (LANGUAGES as readonly string[]).includes(base) ? (base as Lang) : "en";
}

const each = (f: (lang: Lang) => string): Localized => ({ en: f("en"), it: f("it") });

/** Several texts joined, language by language. */
export function joined(texts: readonly Localized[], sep = "; "): Localized {
  return each((l) => texts.map((t) => t[l]).join(sep));
}

/** endUserInstructions is @Length(max = 4096) (BaseSubscriptionV1DTO): a longer text is refused whole. */
export const INSTRUCTIONS_MAX = 4096;

/**
 * One text per language of the marketplace (`languages`, CLOUDESIRE_LANGUAGES): ours where we write it,
 * English elsewhere; each within Cloudesire's 4,096 characters (cut with an ellipsis, never refused).
 */
export function forMarketplace(text: Localized, languages: readonly string[]): Record<string, string> {
  const within = (t: string) => (t.length <= INSTRUCTIONS_MAX ? t : `${t.slice(0, INSTRUCTIONS_MAX - 1)}…`);
  return Object.fromEntries(languages.map((l) => [l, within((LANGUAGES as readonly string[]).includes(l) ? text[l as Lang] : text.en)]));
}

/**
 * Why an operation failed, as a customer reads it: translated, and never the engine's own words (they
 * quote internal URLs, stack URNs and pages of diagnostics; operators see them in `tenantctl show`). The
 * tenant guard's refusal keeps its figures ("cores 10 in use > 4"), the quota names and numbers only.
 */
export function customerReasonOf(reason: string): Localized {
  const downsize = /^downsize refused, the project uses more than the new plan allows: (.*)$/s.exec(reason);
  if (downsize) {
    const figures = (downsize[1] ?? "").replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "").replace(/\s+/g, " ").trim().slice(0, 500);
    return {
      en: `the project uses more than the new plan allows (${figures})`,
      it: `il progetto usa più di quanto consenta il nuovo piano (${figures})`,
    };
  }
  return {
    en: "the cloud could not complete the request (our operators have the details)",
    it: "il cloud non ha potuto completare la richiesta (i nostri operatori hanno i dettagli)",
  };
}

/** The quantities a plan may hold, by the billing-item identifier the customer chose them with. */
export const WHAT: Record<keyof Quantities, Localized> = {
  cores: { en: "CPU cores", it: "core CPU" },
  ramGb: { en: "GB of RAM", it: "GB di RAM" },
  diskGb: { en: "GB of disk", it: "GB di disco" },
  floatingIps: { en: "IP addresses", it: "indirizzi IP" },
};

export const quantityText = {
  missing: (identifier: string, what: Localized): Localized => ({
    en: `the plan has no "${identifier}" extra resource (${what.en}): the product is not configured as this service expects`,
    it: `il piano non ha la risorsa aggiuntiva "${identifier}" (${what.it}): il prodotto non è configurato come questo servizio si aspetta`,
  }),
  notWhole: (what: Localized, v: number, min: number): Localized => ({
    en: `${what.en}: ${v} is not a whole number of at least ${min}`,
    it: `${what.it}: ${v} non è un numero intero di almeno ${min}`,
  }),
  tooMany: (what: Localized, v: number, max: number): Localized => ({
    en: `${what.en}: ${v} is more than the ${max} this cloud sells per subscription`,
    it: `${what.it}: ${v} è più dei ${max} che questo cloud vende per sottoscrizione`,
  }),
};

export const targetText = {
  unknown: (value: string, known: readonly string[]): Localized => ({
    en: `"${value}" is not a region this service sells in (it sells in: ${known.join(", ")})`,
    it: `"${value}" non è una regione in cui questo servizio vende (vende in: ${known.join(", ")})`,
  }),
};

/** How to log in, without a secret (the password is in the credentials) and without a link (the APP endpoint is it). */
export function accessText(a: { stack: string; domainId: string; hasApp: boolean; payg: boolean; q: Quantities }): Localized {
  const { stack, domainId, q } = a;
  return {
    en: [
      `Your OpenStack project ${stack} is ready.`,
      a.hasApp
        ? `Open it from this service's link and log in with the user name and password shown in your credentials (domain ${domainId}).`
        : `Use the user name and password shown in your credentials (domain ${domainId}) with the identity service given as "authUrl".`,
      `For the openstack CLI, save the "CredentialsFile" credential as ~/.config/openstack/clouds.yaml and run: openstack --os-cloud ${stack} server list`,
      a.payg
        ? `Pay-as-you-go: up to ${q.cores} CPU cores, ${q.ramGb} GB of RAM, ${q.diskGb} GB of disk and ${q.floatingIps} IP addresses; what you use is billed at the end of each month.`
        : `Your quotas: ${q.cores} CPU cores, ${q.ramGb} GB of RAM, ${q.diskGb} GB of disk, ${q.floatingIps} IP addresses.`,
    ].join("\n"),
    it: [
      `Il tuo progetto OpenStack ${stack} è pronto.`,
      a.hasApp
        ? `Aprilo dal collegamento di questo servizio e accedi con il nome utente e la password indicati nelle tue credenziali (dominio ${domainId}).`
        : `Usa il nome utente e la password indicati nelle tue credenziali (dominio ${domainId}) con il servizio di identità indicato come "authUrl".`,
      `Per la CLI openstack, salva la credenziale "CredentialsFile" come ~/.config/openstack/clouds.yaml ed esegui: openstack --os-cloud ${stack} server list`,
      a.payg
        ? `A consumo: fino a ${q.cores} core CPU, ${q.ramGb} GB di RAM, ${q.diskGb} GB di disco e ${q.floatingIps} indirizzi IP; quello che usi è fatturato alla fine di ogni mese.`
        : `Le tue quote: ${q.cores} core CPU, ${q.ramGb} GB di RAM, ${q.diskGb} GB di disco, ${q.floatingIps} indirizzi IP.`,
    ].join("\n"),
  };
}

/** A change to a running project refused: it keeps working as it was. */
export function changeRefusedText(reason: Localized, access: Localized): Localized {
  return {
    en: `Your last change could not be applied: ${reason.en}. Your project keeps working with its previous quotas; change your order, or free resources, and it will be applied.\n\n${access.en}`,
    it: `La tua ultima modifica non è stata applicata: ${reason.it}. Il tuo progetto continua a funzionare con le quote precedenti; modifica l'ordine, o libera risorse, e sarà applicata.\n\n${access.it}`,
  };
}

/** A project that could not be created. */
export function notCreatedText(reason: Localized): Localized {
  return {
    en: `Your OpenStack project could not be created: ${reason.en}. Nothing is running and nothing will be charged for it; our operators have been told. Change your order (or contact support) and it will be created.`,
    it: `Non è stato possibile creare il tuo progetto OpenStack: ${reason.it}. Non c'è nulla in esecuzione e nulla ti sarà addebitato; i nostri operatori sono stati avvisati. Modifica l'ordine (o contatta l'assistenza) e sarà creato.`,
  };
}

/** The credentials' descriptions. */
export const CREDENTIAL_TEXT: Record<"username" | "password" | "project" | "authUrl" | "region" | "CredentialsFile", Localized> = {
  username: { en: "User name", it: "Nome utente" },
  password: { en: "Password", it: "Password" },
  project: { en: "Project", it: "Progetto" },
  authUrl: { en: "Identity (Keystone) URL", it: "URL del servizio di identità (Keystone)" },
  region: { en: "Region", it: "Regione" },
  CredentialsFile: { en: "clouds.yaml for the openstack CLI", it: "clouds.yaml per la CLI openstack" },
};
