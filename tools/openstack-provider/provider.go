// Package openstackprovider is this project's build of the Pulumi OpenStack provider: pulumi-terraform-bridge
// over terraform-provider-openstack, answering to exactly the tokens that @pulumi/openstack (the npm SDK the
// tenant program uses) sends for what src/program/tenant.ts declares. The official provider module
// (github.com/pulumi/pulumi-openstack/provider/v3) is the same bridge over the same Terraform provider with
// every resource mapped; it is not served by the Go module proxy here, its two halves are.
package openstackprovider

import (
	"fmt"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

// Versions of what the binary is made of, stamped into its version string (see Version).
const (
	// The npm package @pulumi/openstack whose tokens and plugin version this build answers to.
	SDKVersion = "3.15.2"
	// terraform-provider-openstack, the Terraform provider doing the OpenStack calls.
	TerraformProviderVersion = "3.4.0"
	// pulumi-terraform-bridge, the layer that speaks Pulumi's provider protocol.
	BridgeVersion = "3.120.0"
)

// Resources maps Terraform resource names to the tokens @pulumi/openstack 3.15.2 uses
// (sdk/nodejs/<module>/<name>.ts: `__pulumiType`). Only these are served: the tenant program declares nothing
// else, and every resource left out is schema the provider would load at each start for nothing.
var Resources = map[string]string{
	"openstack_identity_project_v3":         "openstack:identity/project:Project",
	"openstack_identity_user_v3":            "openstack:identity/user:User",
	"openstack_identity_role_assignment_v3": "openstack:identity/roleAssignment:RoleAssignment",
	"openstack_compute_quotaset_v2":         "openstack:compute/quotaSetV2:QuotaSetV2",
	// The official package's own spelling ("Quote"): the token is what the SDK sends, typo included.
	"openstack_blockstorage_quotaset_v3": "openstack:blockstorage/quoteSetV3:QuoteSetV3",
	"openstack_networking_quota_v2":      "openstack:networking/quotaV2:QuotaV2",
}

// DataSources maps Terraform data sources to the invoke tokens @pulumi/openstack 3.15.2 uses.
var DataSources = map[string]string{
	"openstack_identity_role_v3": "openstack:identity/getRole:getRole",
}

// Version is what `pulumi-resource-openstack -version` prints and the plugin reports to the engine: the SDK
// version it answers to (the engine asks for that plugin version), with build metadata saying what it is.
func Version() string {
	return fmt.Sprintf("%s+openstack-tenants.tf-openstack.%s.bridge.%s.resources.%d", SDKVersion, TerraformProviderVersion, BridgeVersion, len(Resources))
}

// Info is the bridge's description of the provider: the Terraform provider cut down to what is mapped.
func Info() tfbridge.ProviderInfo {
	tf := openstack.Provider()
	for name := range tf.ResourcesMap {
		if _, ok := Resources[name]; !ok {
			delete(tf.ResourcesMap, name)
		}
	}
	for name := range tf.DataSourcesMap {
		if _, ok := DataSources[name]; !ok {
			delete(tf.DataSourcesMap, name)
		}
	}
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(tf),
		Name:        "openstack",
		Version:     Version(),
		DisplayName: "OpenStack",
		Description: fmt.Sprintf("openstack-tenants' build of terraform-provider-openstack v%s through pulumi-terraform-bridge v%s, answering to @pulumi/openstack %s's tokens for %d resources and %d data source.", TerraformProviderVersion, BridgeVersion, SDKVersion, len(Resources), len(DataSources)),
		Publisher:   "openstack-tenants",
		License:     "Apache-2.0",
		// Where tfgen finds the Terraform provider's docs (the module the Go command downloaded for the build).
		GitHubOrg:               "terraform-provider-openstack",
		TFProviderVersion:       TerraformProviderVersion,
		TFProviderModuleVersion: "v3",
		Resources:               map[string]*tfbridge.ResourceInfo{},
		DataSources:             map[string]*tfbridge.DataSourceInfo{},
	}
	for name, tok := range Resources {
		info.Resources[name] = &tfbridge.ResourceInfo{Tok: tokens.Type(tok)}
	}
	for name, tok := range DataSources {
		info.DataSources[name] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(tok)}
	}
	return info
}
