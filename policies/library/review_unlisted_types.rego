# Allow-list resource types; a human reviews anything else. Samples every evaluation.
#
# The troubleshooting advice "start with an allow-list and expand" as a policy: listed
# types are allowed, any other type waits for a human review instead of being denied.
# `sample := true` keeps every evaluation (input and result) for the policy workbench,
# which is how you see what to add to the list; remove it once the list settles.
package spacelift

sample := true

listed_types := {
	"aws_s3_bucket",
	"aws_s3_bucket_versioning",
	"aws_ssm_parameter",
	"random_id",
	"random_pet",
}

allow contains msg if {
	input.resource.resource_type in listed_types
	msg := sprintf("%s is an allow-listed type", [input.resource.resource_type])
}
