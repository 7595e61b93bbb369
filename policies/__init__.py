"""Intent policies: Rego guardrails evaluated for every operation of a change.

- ``policies.engine``: validate and evaluate policies (``package spacelift``);
- ``policies.input``: the policy input contract, with sensitive values redacted;
- ``policies.models``: the wire types (sources, problems, results, verdicts);
- ``policies.testing``: run ``*_test.rego`` files (``intent policy test``);
- ``policies.library``: built-in policies with their tests.

This package imports nothing on purpose: the policy worker process imports
``policies._worker`` and must start fast. See docs/policies.md.
"""
