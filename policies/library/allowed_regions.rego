# Keep AWS resources in allowed regions.
#
# The region of an AWS resource is read, in order, from its proposed state's `region`
# (AWS provider 6 has one per resource), the provider configuration's `region`, or
# its availability zone. The allowed regions are `default_regions` below, unless the
# project carries labels `region:NAME` (for example `region:eu-west-1`), which then
# replace them. When no region can be told (nothing set yet, or known only after
# apply) the policy does not object. Deletes are never held back: removing something
# from a wrong region is welcome. A guardrail: it only denies.
package spacelift

default_regions := {"eu-west-1", "eu-central-1"}

label_prefix := "region:"

markers := {"(known after apply)", "(sensitive)"}

labelled_regions := {substring(label, count(label_prefix), -1) |
	some label in input.project.labels
	startswith(label, label_prefix)
}

allowed_regions := labelled_regions if {
	count(labelled_regions) > 0
} else := default_regions

usable(value) if {
	is_string(value)
	value != ""
	not value in markers
}

region_from_state := input.resource.proposed_state.region if usable(input.resource.proposed_state.region)

region_from_provider := input.resource.provider_config.region if usable(input.resource.provider_config.region)

# "eu-west-1b" is in "eu-west-1" (local and wavelength zones carry more after it).
region_from_zone := region if {
	zone := input.resource.proposed_state.availability_zone
	usable(zone)
	parts := regex.find_all_string_submatch_n(`^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]`, zone, 1)
	region := parts[0][1]
}

region := from_state if {
	from_state := region_from_state
} else := from_provider if {
	from_provider := region_from_provider
} else := region_from_zone

deny contains msg if {
	startswith(input.resource.resource_type, "aws_")
	input.resource.operation != "delete"
	not region in allowed_regions
	msg := sprintf(
		"%s would be in region %s; this project allows %s",
		[input.resource.resource_id, region, concat(", ", sort(allowed_regions))],
	)
}
