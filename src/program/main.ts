/**
 * The Pulumi program of Pulumi.yaml: the service (through the Automation API, on this same directory)
 * and an operator at a shell (`pulumi preview --stack sub-42`) both run exactly this file.
 */
import * as pulumi from "@pulumi/pulumi";
import { TenantSpec } from "../domain/tenant-spec.js";
import { declareTenant } from "./tenant.js";

const config = new pulumi.Config("tenant");
const spec = TenantSpec.parse(config.requireObject<unknown>("spec"));
const tenant = declareTenant(spec, config.requireSecret("password"));

export const projectId = tenant.projectId;
export const userId = tenant.userId;
export const userName = tenant.userName;
export const authUrl = tenant.authUrl;
export const region = tenant.region;
export const password = tenant.password;
export const domainId = spec.domainId;
