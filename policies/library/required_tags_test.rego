package spacelift_test

import data.spacelift

operation(resource_type, op, proposed) := {
	"resource": {
		"resource_id": "web",
		"resource_type": resource_type,
		"provider": "hashicorp/aws",
		"provider_version": "5.100.0",
		"operation": op,
		"current_state": null,
		"proposed_state": proposed,
		"change": {"actions": [op], "replace_paths": []},
	},
	"project": {"id": "p1", "name": "p1", "space": "root", "labels": []},
	"actor": {"id": "u1", "name": "alice", "roles": [], "via": "mcp"},
	"request": {"change_id": "c1", "timestamp_ns": 0},
}

bucket(tags) := operation("aws_s3_bucket", "create", {"bucket": "web", "tags": tags, "tags_all": "(known after apply)"})

denials(inp) := reasons if {
	reasons := object.get(spacelift, "deny", set()) with input as inp
}

test_fully_tagged_bucket_passes if {
	count(denials(bucket({"Owner": "platform-team", "Environment": "dev"}))) == 0
}

test_untagged_bucket_is_denied_listing_both_tags if {
	denials(bucket(null)) == {"web (aws_s3_bucket) must be tagged with Owner and Environment; missing: Owner, Environment"}
	denials(bucket({})) == denials(bucket(null))
}

test_one_missing_tag_is_named if {
	denials(bucket({"Owner": "platform-team"})) == {"web (aws_s3_bucket) must be tagged with Owner and Environment; missing: Environment"}
}

test_blank_tag_values_do_not_count if {
	some msg in denials(bucket({"Owner": "  ", "Environment": "dev"}))
	endswith(msg, "missing: Owner")
}

test_tag_names_are_case_sensitive if {
	count(denials(bucket({"owner": "a", "environment": "b"}))) == 1
}

test_default_tags_from_the_provider_count if {
	inp := operation("aws_instance", "update", {
		"ami": "ami-123",
		"tags": {"Owner": "platform-team"},
		"tags_all": {"Owner": "platform-team", "Environment": "prod"},
	})
	count(denials(inp)) == 0
}

test_tags_known_after_apply_are_denied if {
	some msg in denials(bucket("(known after apply)"))
	contains(msg, "only known after apply")
}

test_tag_value_known_after_apply_counts_as_set if {
	count(denials(bucket({"Owner": "(known after apply)", "Environment": "dev"}))) == 0
}

test_resources_without_tags_are_not_governed if {
	count(denials(operation("aws_s3_bucket_versioning", "create", {"bucket": "web", "versioning_configuration": []}))) == 0
}

test_other_providers_are_not_governed if {
	count(denials(operation("random_pet", "create", {"length": 2, "tags": null}))) == 0
}

test_deletes_imports_and_refreshes_are_not_governed if {
	every op in ["delete", "import", "refresh"] {
		count(denials(operation("aws_s3_bucket", op, {"bucket": "web", "tags": null}))) == 0
	}
}

test_delete_with_null_proposed_state_is_fine if {
	count(denials(operation("aws_s3_bucket", "delete", null))) == 0
}

test_guardrail_never_allows if {
	count(object.get(spacelift, "allow", set())) == 0 with input as bucket({"Owner": "a", "Environment": "b"})
}
