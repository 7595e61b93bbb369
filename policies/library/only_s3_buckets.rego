# Only S3 buckets (the walkthrough's first policy).
#
# A project that may hold S3 buckets and nothing else: any other resource type is
# denied, with a message naming it; a bucket is allowed. Loosen it by adding types to
# `permitted_types` (for example "aws_s3_bucket_versioning").
package spacelift

permitted_types := {"aws_s3_bucket"}

deny contains msg if {
	not input.resource.resource_type in permitted_types
	msg := sprintf(
		"%s is of type %s; this project may only manage S3 buckets (aws_s3_bucket)",
		[input.resource.resource_id, input.resource.resource_type],
	)
}

allow contains msg if {
	input.resource.resource_type in permitted_types
	msg := sprintf("%s is an S3 bucket", [input.resource.resource_id])
}
