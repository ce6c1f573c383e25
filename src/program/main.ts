/**
 * The Pulumi program of Pulumi.yaml: the service (through the Automation API, on this same directory)
 * and an operator at a shell (`pulumi preview --stack sub-42`) both run exactly this file.
 */
import { tenantStack } from "./tenant-stack.js";

const stack = tenantStack();

export const projectId = stack.projectId;
export const userId = stack.userId;
export const userName = stack.userName;
export const authUrl = stack.authUrl;
export const region = stack.region;
export const password = stack.password;
export const domainId = stack.domainId;
