package spacelift_test

import data.spacelift

operation(op, proposed, config, labels) := {
	"resource": {
		"resource_id": "web",
		"resource_type": "aws_instance",
		"provider": "hashicorp/aws",
		"provider_version": "6.0.0",
		"operation": op,
		"current_state": null,
		"proposed_state": proposed,
		"change": {"actions": [op], "replace_paths": []},
		"provider_config": config,
	},
	"project": {"id": "p1", "name": "p1", "space": "root", "labels": labels},
	"actor": {"id": "u1", "name": "alice", "roles": [], "via": "mcp"},
	"request": {"change_id": "c1", "timestamp_ns": 0},
}

create_in(region) := operation("create", {"ami": "ami-1", "region": region}, null, [])

denials(inp) := reasons if {
	reasons := object.get(spacelift, "deny", set()) with input as inp
}

test_default_regions_are_allowed if {
	count(denials(create_in("eu-west-1"))) == 0
	count(denials(create_in("eu-central-1"))) == 0
}

test_other_region_is_denied_naming_it_and_the_allowed_ones if {
	denials(create_in("us-east-1")) == {"web would be in region us-east-1; this project allows eu-central-1, eu-west-1"}
}

test_region_from_provider_config if {
	count(denials(operation("create", {"ami": "ami-1"}, {"region": "us-west-2"}, []))) == 1
	count(denials(operation("create", {"ami": "ami-1"}, {"region": "eu-west-1"}, []))) == 0
}

test_resource_region_wins_over_provider_region if {
	inp := operation("update", {"region": "eu-west-1"}, {"region": "us-east-1"}, [])
	count(denials(inp)) == 0
}

test_unknown_resource_region_falls_back_to_provider if {
	inp := operation("create", {"region": "(known after apply)"}, {"region": "ap-south-1"}, [])
	some msg in denials(inp)
	contains(msg, "ap-south-1")
}

test_region_from_availability_zone if {
	some msg in denials(operation("create", {"availability_zone": "us-east-1b"}, null, []))
	contains(msg, "region us-east-1;")
	count(denials(operation("create", {"availability_zone": "eu-west-1a"}, null, []))) == 0
	count(denials(operation("create", {"availability_zone": "us-gov-west-1a"}, null, []))) == 1
}

test_project_labels_replace_the_default_list if {
	labels := ["team:web", "region:us-east-1", "region:us-west-2"]
	count(denials(operation("create", {"region": "us-west-2"}, null, labels))) == 0
	denials(operation("create", {"region": "eu-west-1"}, null, labels)) == {"web would be in region eu-west-1; this project allows us-east-1, us-west-2"}
}

test_no_region_known_means_no_objection if {
	count(denials(operation("create", {"ami": "ami-1"}, null, []))) == 0
	count(denials(operation("create", {"region": "(known after apply)"}, {}, []))) == 0
}

test_deletes_are_never_held_back if {
	count(denials(operation("delete", null, {"region": "us-east-1"}, []))) == 0
}

test_imports_from_a_wrong_region_are_denied if {
	count(denials(operation("import", {"region": "sa-east-1"}, null, []))) == 1
}

test_non_aws_resources_are_ignored if {
	inp := object.union(create_in("us-east-1"), {"resource": {"resource_type": "random_pet"}})
	inp.resource.proposed_state.region == "us-east-1"
	count(denials(inp)) == 0
}
