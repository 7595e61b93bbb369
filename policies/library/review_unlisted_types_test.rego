package spacelift_test

import data.spacelift

operation(resource_type, op) := {
	"resource": {
		"resource_id": "thing",
		"resource_type": resource_type,
		"provider": "hashicorp/aws",
		"provider_version": "5.100.0",
		"operation": op,
		"current_state": null,
		"proposed_state": {},
		"change": {"actions": [op], "replace_paths": []},
	},
	"project": {"id": "p1", "name": "p1", "space": "root", "labels": []},
	"actor": {"id": "u1", "name": "alice", "roles": [], "via": "mcp"},
	"request": {"change_id": "c1", "timestamp_ns": 0},
}

test_listed_types_are_allowed if {
	every t in ["aws_s3_bucket", "aws_ssm_parameter", "random_pet"] {
		result := spacelift with input as operation(t, "create")
		result.allow == {sprintf("%s is an allow-listed type", [t])}
	}
}

test_unlisted_type_waits_for_review if {
	result := spacelift with input as operation("aws_instance", "create")
	count(result.allow) == 0
	not result.deny
}

test_deletes_of_listed_types_are_allowed if {
	count(spacelift.allow) == 1 with input as operation("random_id", "delete")
}

test_every_evaluation_is_sampled if {
	spacelift.sample == true with input as operation("aws_s3_bucket", "create")
	spacelift.sample == true with input as operation("aws_instance", "delete")
}
