# No public S3 buckets.
#
# Denies, on create and update:
# - a canned ACL that opens a bucket (public-read, public-read-write,
#   authenticated-read) on aws_s3_bucket or aws_s3_bucket_acl;
# - an aws_s3_bucket_acl grant to everyone or to every AWS account holder;
# - an S3 public access block (bucket or account) with any of its four
#   protections switched off.
# A guardrail: it only denies.
package spacelift

public_acls := {"public-read", "public-read-write", "authenticated-read"}

public_groups := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

protections := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

changing if input.resource.operation in {"create", "update"}

state := input.resource.proposed_state

deny contains msg if {
	changing
	input.resource.resource_type in {"aws_s3_bucket", "aws_s3_bucket_acl"}
	state.acl in public_acls
	msg := sprintf("%s would make the bucket public with the %s ACL; use private", [input.resource.resource_id, state.acl])
}

deny contains msg if {
	changing
	input.resource.resource_type == "aws_s3_bucket_acl"
	some policy in object.get(state, "access_control_policy", [])
	some grant in object.get(policy, "grant", [])
	some grantee in object.get(grant, "grantee", [])
	grantee.uri in public_groups
	msg := sprintf(
		"%s would grant %s to %s; S3 buckets must not be public",
		[input.resource.resource_id, object.get(grant, "permission", "access"), grantee.uri],
	)
}

deny contains msg if {
	changing
	input.resource.resource_type in {"aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"}
	off := [name | some name in protections; state[name] == false]
	count(off) > 0
	msg := sprintf(
		"%s would switch off S3 block public access (%s); keep all four protections on",
		[input.resource.resource_id, concat(", ", off)],
	)
}
