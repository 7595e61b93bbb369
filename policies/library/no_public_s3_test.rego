package spacelift_test

import data.spacelift

operation(resource_type, op, proposed) := {
	"resource": {
		"resource_id": "assets",
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

denials(inp) := reasons if {
	reasons := object.get(spacelift, "deny", set()) with input as inp
}

all_on := {
	"bucket": "assets",
	"block_public_acls": true,
	"block_public_policy": true,
	"ignore_public_acls": true,
	"restrict_public_buckets": true,
}

acl_grant(uri) := {
	"bucket": "assets",
	"acl": null,
	"access_control_policy": [{
		"owner": [{"id": "owner-id"}],
		"grant": [
			{"permission": "FULL_CONTROL", "grantee": [{"type": "CanonicalUser", "id": "owner-id", "uri": null}]},
			{"permission": "READ", "grantee": [{"type": "Group", "id": null, "uri": uri}]},
		],
	}],
}

test_private_bucket_passes if {
	count(denials(operation("aws_s3_bucket", "create", {"bucket": "assets", "acl": "private"}))) == 0
	count(denials(operation("aws_s3_bucket", "create", {"bucket": "assets", "acl": null}))) == 0
}

test_public_canned_acls_are_denied_on_buckets_and_bucket_acls if {
	every acl in ["public-read", "public-read-write", "authenticated-read"] {
		every t in ["aws_s3_bucket", "aws_s3_bucket_acl"] {
			count(denials(operation(t, "create", {"bucket": "assets", "acl": acl}))) == 1
		}
	}
}

test_denial_names_the_acl if {
	denials(operation("aws_s3_bucket_acl", "update", {"acl": "public-read"})) == {"assets would make the bucket public with the public-read ACL; use private"}
}

test_other_canned_acls_pass if {
	every acl in ["private", "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write", "aws-exec-read"] {
		count(denials(operation("aws_s3_bucket_acl", "create", {"acl": acl}))) == 0
	}
}

test_grants_to_everyone_are_denied if {
	denials(operation("aws_s3_bucket_acl", "create", acl_grant("http://acs.amazonaws.com/groups/global/AllUsers"))) == {"assets would grant READ to http://acs.amazonaws.com/groups/global/AllUsers; S3 buckets must not be public"}
	count(denials(operation("aws_s3_bucket_acl", "create", acl_grant("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")))) == 1
}

test_grants_to_log_delivery_pass if {
	count(denials(operation("aws_s3_bucket_acl", "create", acl_grant("http://acs.amazonaws.com/groups/s3/LogDelivery")))) == 0
}

test_public_access_block_fully_on_passes if {
	count(denials(operation("aws_s3_bucket_public_access_block", "create", all_on))) == 0
}

test_switching_a_protection_off_is_denied_naming_it if {
	off := object.union(all_on, {"block_public_policy": false, "restrict_public_buckets": false})
	denials(operation("aws_s3_bucket_public_access_block", "update", off)) == {"assets would switch off S3 block public access (block_public_policy, restrict_public_buckets); keep all four protections on"}
}

test_account_level_block_is_governed_too if {
	off := object.union(all_on, {"ignore_public_acls": false})
	count(denials(operation("aws_s3_account_public_access_block", "create", off))) == 1
}

test_unknown_protection_values_pass if {
	unknown := object.union(all_on, {"block_public_acls": "(known after apply)"})
	count(denials(operation("aws_s3_bucket_public_access_block", "create", unknown))) == 0
}

test_deletes_are_not_governed if {
	count(denials(operation("aws_s3_bucket", "delete", null))) == 0
	count(denials(operation("aws_s3_bucket_acl", "refresh", {"acl": "public-read"}))) == 0
}

test_other_resource_types_are_ignored if {
	count(denials(operation("aws_instance", "create", {"acl": "public-read"}))) == 0
}
