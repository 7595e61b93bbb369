package spacelift_test

import data.spacelift

operation(resource_type, op) := {
	"resource": {
		"resource_id": "my-resource",
		"resource_type": resource_type,
		"provider": "hashicorp/aws",
		"provider_version": "5.100.0",
		"operation": op,
		"current_state": null,
		"proposed_state": {},
		"change": {"actions": [op], "replace_paths": []},
	},
	"project": {"id": "p1", "name": "p1", "space": "root", "labels": []},
	"actor": {"id": "u1", "name": "alice", "roles": ["operator"], "via": "mcp"},
	"request": {"change_id": "c1", "timestamp_ns": 0},
}

test_bucket_create_is_allowed if {
	result := spacelift with input as operation("aws_s3_bucket", "create")
	count(result.deny) == 0
	result.allow == {"my-resource is an S3 bucket"}
}

test_bucket_update_and_delete_are_allowed if {
	every op in ["update", "delete", "import", "refresh"] {
		count(spacelift.deny) == 0 with input as operation("aws_s3_bucket", op)
		count(spacelift.allow) == 1 with input as operation("aws_s3_bucket", op)
	}
}

test_ec2_instance_is_denied_naming_its_type if {
	result := spacelift with input as operation("aws_instance", "create")
	result.deny == {"my-resource is of type aws_instance; this project may only manage S3 buckets (aws_s3_bucket)"}
	count(result.allow) == 0
}

test_other_providers_are_denied_too if {
	some msg in spacelift.deny with input as operation("random_pet", "delete")
	contains(msg, "random_pet")
}

test_bucket_lookalikes_are_denied if {
	every t in ["aws_s3_bucket_acl", "aws_s3_bucket_policy", "aws_s3_buckets", "s3_bucket"] {
		count(spacelift.deny) == 1 with input as operation(t, "create")
	}
}

test_result_is_never_both_denied_and_allowed if {
	every t in ["aws_s3_bucket", "aws_instance", "random_id"] {
		result := spacelift with input as operation(t, "create")
		count(result.deny) + count(result.allow) == 1
	}
}
