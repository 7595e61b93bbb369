# Require Owner and Environment tags on taggable AWS resources.
#
# On create and update, an AWS resource whose schema has `tags` must carry a non-empty
# Owner and Environment tag. Tags inherited from the provider's `default_tags` count
# once the plan knows them (`tags_all`). A guardrail: it only denies, so attach it
# next to a policy that allows (deletes_need_review, only_s3_buckets, …).
package spacelift

required_tags := ["Owner", "Environment"]

unknown := "(known after apply)"

governed if {
	startswith(input.resource.resource_type, "aws_")
	input.resource.operation in {"create", "update"}
	# Every attribute of the schema is present in the state: `tags` means taggable.
	"tags" in object.keys(input.resource.proposed_state)
}

tags_of(state, attribute) := tags if {
	tags := state[attribute]
	is_object(tags)
} else := {}

# A tag is set when it has a non-blank value, or a value only known after apply.
tag_set(name) if {
	some attribute in ["tags", "tags_all"]
	value := tags_of(input.resource.proposed_state, attribute)[name]
	is_string(value)
	trim_space(value) != ""
}

deny contains msg if {
	governed
	input.resource.proposed_state.tags == unknown
	msg := sprintf(
		"the tags of %s are only known after apply; set %s explicitly",
		[input.resource.resource_id, concat(" and ", required_tags)],
	)
}

deny contains msg if {
	governed
	input.resource.proposed_state.tags != unknown
	missing := [name | some name in required_tags; not tag_set(name)]
	count(missing) > 0
	msg := sprintf(
		"%s (%s) must be tagged with %s; missing: %s",
		[
			input.resource.resource_id, input.resource.resource_type,
			concat(" and ", required_tags), concat(", ", missing),
		],
	)
}
