package spacelift_test

import data.spacelift

operation(op, actions) := {
	"resource": {
		"resource_id": "assets",
		"resource_type": "aws_s3_bucket",
		"provider": "hashicorp/aws",
		"provider_version": "5.100.0",
		"operation": op,
		"current_state": {"bucket": "assets"},
		"proposed_state": {"bucket": "assets"},
		"change": {"actions": actions, "replace_paths": []},
	},
	"project": {"id": "p1", "name": "p1", "space": "root", "labels": []},
	"actor": {"id": "u1", "name": "alice", "roles": [], "via": "mcp"},
	"request": {"change_id": "c1", "timestamp_ns": 0},
}

# The policy has no deny rule at all: read a missing rule as an empty set.
reasons(result, rule) := object.get(result, rule, set())

pending(result) if {
	count(reasons(result, "deny")) == 0
	count(reasons(result, "allow")) == 0
}

test_create_is_allowed if {
	result := spacelift with input as operation("create", ["create"])
	result.allow == {"create assets does not destroy anything"}
	count(reasons(result, "deny")) == 0
}

test_in_place_update_import_and_refresh_are_allowed if {
	count(spacelift.allow) == 1 with input as operation("update", ["update"])
	count(spacelift.allow) == 1 with input as operation("import", ["import"])
	count(spacelift.allow) == 1 with input as operation("refresh", ["read"])
}

test_delete_waits_for_review if {
	result := spacelift with input as operation("delete", ["delete"])
	pending(result)
}

test_replacement_waits_for_review if {
	pending(spacelift) with input as operation("update", ["delete", "create"])
	pending(spacelift) with input as operation("update", ["create", "delete"])
}

test_nothing_is_ever_denied if {
	every op in ["create", "update", "delete", "import", "refresh"] {
		result := spacelift with input as operation(op, [op])
		count(reasons(result, "deny")) == 0
	}
}
