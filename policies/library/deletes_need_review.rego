# Deletes need a human review.
#
# Everything is allowed except operations that destroy a resource: a delete, or an
# update that must replace the resource (its plan deletes it first). For those the
# policy says neither allow nor deny, so the operation waits for a human to confirm or
# reject it. Attach it as the project's baseline and add deny-only guardrails
# (required tags, allowed regions, no public S3) next to it.
package spacelift

destroys if input.resource.operation == "delete"

destroys if "delete" in input.resource.change.actions

allow contains msg if {
	not destroys
	msg := sprintf("%s %s does not destroy anything", [input.resource.operation, input.resource.resource_id])
}
