/**
 * Which OpenStack provider plugin the engine runs, said plainly for operators (doctor, /healthz): the official
 * pulumi-resource-openstack, or this project's build of its two halves (tools/openstack-provider), whose
 * version carries what it is made of as semver build metadata:
 * `3.15.2+openstack-tenants.tf-openstack.3.4.0.bridge.3.120.0.resources.6` (provider.go's Version()).
 */
export function describeProviderVersion(printed: string): string {
  const version = printed.trim().replace(/^v/, "");
  const own = version.match(/^([^+]+)\+openstack-tenants\.tf-openstack\.([\d.]+)\.bridge\.([\d.]+)\.resources\.(\d+)$/);
  if (own) {
    return `this project's build of terraform-provider-openstack v${own[2]} (pulumi-terraform-bridge v${own[3]}, ${own[4]} resources mapped), answering as v${own[1]}`;
  }
  return `the official provider v${version}`;
}
