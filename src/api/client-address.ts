import { BlockList, isIP } from "node:net";
import type { Context } from "hono";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { TrustProxy } from "../config.js";

/** `::ffff:10.0.0.1` (how a dual-stack socket shows an IPv4 peer) is 10.0.0.1. */
const plain = (address: string) => (address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

/**
 * The client's address, as rate limits and auth throttling count it. Each proxy appends to
 * X-Forwarded-For the address it got the request from, so only the entries that trusted proxies
 * appended (on the right) are believed; anything to their left is whatever the client wrote. An entry
 * that is not an IP address ends the trust: the nearest address a trusted party gave is used instead.
 */
export function clientAddress(trust: TrustProxy, peer: string, forwardedFor: string | undefined, trusted = trustedOf(trust)): string {
  if (trust.kind === "off" || !forwardedFor) return plain(peer);
  const chain = [...forwardedFor.split(",").map((a) => plain(a.trim())), plain(peer)];
  const nearestValidFrom = (i: number) => chain.slice(i).find((a) => isIP(a) !== 0) ?? plain(peer);
  if (trust.kind === "hops") return nearestValidFrom(Math.max(0, chain.length - 1 - trust.hops));
  let i = chain.length - 1;
  while (i > 0 && trusted(chain[i] as string)) i--;
  return nearestValidFrom(i);
}

/** Whether an address is one of the trusted proxies (never, unless they are listed by address). */
export function trustedOf(trust: TrustProxy): (address: string) => boolean {
  if (trust.kind !== "addresses") return () => false;
  const list = new BlockList();
  for (const entry of trust.addresses) {
    const [ip, bits] = entry.split("/") as [string, string | undefined];
    const type = isIP(ip) === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
  };
}

/** Where a request comes from: the socket's peer, or the client a trusted proxy names. */
export function clientAddressOf(trust: TrustProxy): (c: Context) => string {
  const trusted = trustedOf(trust);
  return (c) => clientAddress(trust, peerOf(c), c.req.header("x-forwarded-for"), trusted);
}

/** The socket's peer ("unknown" when not served by @hono/node-server: tests calling app.request). */
function peerOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Whether a request came over https: its own URL says so (TLS ended here), or, behind a proxy the
 * service trusts (TRUST_PROXY), the X-Forwarded-Proto the nearest proxy set. With TRUST_PROXY off the
 * header is whatever the client wrote, and is not believed.
 */
export function requestIsHttps(trust: TrustProxy): (c: Context) => boolean {
  const trusted = trustedOf(trust);
  return (c) => {
    if (new URL(c.req.url).protocol === "https:") return true;
    const proto = c.req.header("x-forwarded-proto");
    if (trust.kind === "off" || !proto) return false;
    if (trust.kind === "addresses" && !trusted(plain(peerOf(c)))) return false;
    // Each proxy may append its own: the last one is the nearest's.
    return proto.split(",").at(-1)?.trim().toLowerCase() === "https";
  };
}
