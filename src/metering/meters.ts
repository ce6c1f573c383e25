import { z } from "zod";

/**
 * What is billed, and where Gnocchi keeps it. Defaults are those of a Ceilometer-fed Gnocchi:
 * instances report `vcpus` and `memory` (MB), volumes `volume.size` (GB), floating IPs `ip.floating`
 * (1 while the IP exists). `divisor` turns the metric's unit into the billed unit (MB → GB: 1024).
 */
export const Meter = z.object({
  resourceType: z.string().min(1),
  metric: z.string().min(1),
  /** The archive policy's aggregation read per resource before summing over a project's resources. */
  aggregation: z.enum(["mean", "max", "last"]).default("mean"),
  divisor: z.number().positive().default(1),
  unit: z.string().min(1),
});
export type Meter = z.infer<typeof Meter>;

export const BilledResource = z.enum(["cores", "ramGb", "diskGb", "floatingIps"]);
export type BilledResource = z.infer<typeof BilledResource>;

export const Meters = z.object({ cores: Meter, ramGb: Meter, diskGb: Meter, floatingIps: Meter }).strict();
export type Meters = z.infer<typeof Meters>;

export const DEFAULT_METERS: Meters = {
  cores: { resourceType: "instance", metric: "vcpus", aggregation: "mean", divisor: 1, unit: "core-hour" },
  ramGb: { resourceType: "instance", metric: "memory", aggregation: "mean", divisor: 1024, unit: "GB-hour" },
  diskGb: { resourceType: "volume", metric: "volume.size", aggregation: "mean", divisor: 1, unit: "GB-hour" },
  floatingIps: { resourceType: "network", metric: "ip.floating", aggregation: "mean", divisor: 1, unit: "IP-hour" },
};
