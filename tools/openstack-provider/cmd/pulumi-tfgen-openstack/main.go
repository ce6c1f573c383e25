// pulumi-tfgen-openstack writes the provider's Pulumi schema, with the Terraform provider's own docs:
//
//	go run ./cmd/pulumi-tfgen-openstack schema --skip-examples --out cmd/pulumi-resource-openstack
//
// (--skip-examples: the docs' HCL examples would need the pulumi-converter-terraform plugin, not served here.)
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	openstackprovider "openstack-tenants.local/openstack-provider"
)

func main() {
	info := openstackprovider.Info()
	// tfgen looks for the Terraform provider's docs from a ./provider directory (the official repositories'
	// layout); this module's go.mod names the provider, so the Go command says where its source is.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/terraform-provider-openstack/terraform-provider-openstack/v3").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "finding terraform-provider-openstack's source: %v\n", err)
		os.Exit(1)
	}
	info.UpstreamRepoPath = strings.TrimSpace(string(out))
	tfgen.Main("openstack", openstackprovider.Version(), info)
}
