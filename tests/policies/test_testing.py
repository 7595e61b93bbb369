"""`intent policy test`: the library's tests pass; failures and compile errors fail it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.policy import app
from policies import library
from policies._pool import PolicyWorkerPool
from policies.testing import run_policy_tests

ROOT = Path(__file__).resolve().parents[2]

POLICY = """package spacelift

deny contains msg if {
	input.resource.resource_type != "aws_s3_bucket"
	msg := sprintf("%s is not a bucket", [input.resource.resource_type])
}
"""

PASSING = """package spacelift_test

import data.spacelift

test_instance_is_denied if {
	count(spacelift.deny) == 1 with input as {"resource": {"resource_type": "aws_instance"}}
}
"""

FAILING = """package spacelift_test

import data.spacelift

test_bucket_is_denied_wrongly if {
	print("deny is", spacelift.deny)
	count(spacelift.deny) == 1 with input as {"resource": {"resource_type": "aws_s3_bucket"}}
}

test_still_fine if true
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return directory


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["test", *args])
    return result.exit_code, result.output


# -- the library -------------------------------------------------------------------------------


def test_library_tests_pass_through_the_cli() -> None:
    code, output = invoke(str(library.directory()))
    assert code == 0, output
    for name in library.names():
        assert f"{name}_test.rego:" in output
    assert "FAIL" not in output and "ERROR" not in output
    passed = [line for line in output.splitlines() if line.strip().startswith("PASS ")]
    assert len(passed) >= 40
    assert f"PASS: {len(passed)}/{len(passed)}" in output


def test_library_tests_pass_as_a_subprocess() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-m", "cli.policy", "test", str(library.directory())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "PASS: " in completed.stdout


def test_library_tests_pass_through_the_function(pool: PolicyWorkerPool) -> None:
    report = run_policy_tests(library.directory(), pool=pool)
    assert report.ok, [r for r in report.results if r.outcome != "pass"] or report.errors
    files = {r.file for r in report.results}
    assert files == {f"{name}_test.rego" for name in library.names()}


# -- failures ----------------------------------------------------------------------------------


def test_a_broken_test_fails_the_command(tmp_path: Path) -> None:
    write(tmp_path, {"only_buckets.rego": POLICY, "only_buckets_test.rego": FAILING})
    code, output = invoke(str(tmp_path))
    assert code == 1
    assert "FAIL  data.spacelift_test.test_bucket_is_denied_wrongly" in output
    assert "undefined: a condition in the test's body did not hold" in output
    assert (
        "only_buckets_test.rego:6: deny is set()" in output or "deny is" in output
    )  # prints on failure
    assert "PASS  data.spacelift_test.test_still_fine" in output
    assert "PASS: 1/2" in output and "FAIL: 1/2" in output


def test_prints_of_passing_tests_only_with_verbose(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"p.rego": POLICY, "p_test.rego": PASSING.replace("if {", 'if {\n\tprint("hello")')},
    )
    assert "hello" not in invoke(str(tmp_path))[1]
    code, output = invoke(str(tmp_path), "-v")
    assert code == 0 and "p_test.rego:6: hello" in output


def test_compile_errors_fail_the_command_with_a_position(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": POLICY.replace("msg := ", "msg := $"), "p_test.rego": PASSING})
    code, output = invoke(str(tmp_path))
    assert code == 1
    assert "ERROR p.rego:5:9: invalid character" in output
    assert "1 file(s) did not compile" in output


def test_errors_and_timeouts_in_tests_fail_the_command(tmp_path: Path) -> None:
    tests = (
        PASSING
        + """
test_divides_by_zero if 1 / 0 == 1

test_spins if {
	count([x | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000)]) > 0
}

test_after_the_spin if true
"""
    )
    write(tmp_path, {"p.rego": POLICY, "p_test.rego": tests})
    code, output = invoke(str(tmp_path), "--timeout", "0.5")
    assert code == 1
    assert "ERROR data.spacelift_test.test_divides_by_zero" in output
    assert "p_test.rego:9:27: divide by zero" in output
    assert (
        "ERROR data.spacelift_test.test_spins" in output
        and "exceeded the 0.5s limit per test" in output
    )
    assert "PASS  data.spacelift_test.test_after_the_spin" in output


def test_run_filters_by_name_or_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"a.rego": POLICY, "a_test.rego": PASSING, "b.rego": POLICY, "b_test.rego": FAILING},
    )
    code, output = invoke(str(tmp_path), "--run", "instance")
    assert code == 0 and "test_instance_is_denied" in output and "b_test.rego" not in output
    code, output = invoke(str(tmp_path), "-r", "^b_test")
    assert code == 1 and "a_test.rego" not in output
    code, output = invoke(str(tmp_path), "--run", "nothing-matches-this")
    assert code == 1 and "no tests matched --run" in output


def test_no_tests_is_a_failure(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": POLICY})
    code, output = invoke(str(tmp_path))
    assert code == 1 and "no tests found" in output


def test_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    assert invoke(str(tmp_path / "nope"))[0] == 2


def test_a_single_test_file(tmp_path: Path) -> None:
    files = {"a.rego": POLICY, "a_test.rego": PASSING, "b_test.rego": FAILING, "c.rego": "x :="}
    write(tmp_path, files)
    code, output = invoke(str(tmp_path / "a_test.rego"))
    assert code == 0, output
    assert "b_test.rego" not in output and "c.rego" not in output  # not part of a's test
    assert invoke(str(tmp_path))[0] == 1  # the whole tree: b fails, c does not compile


def test_each_test_sees_only_its_own_policy_and_the_helper_libraries(
    tmp_path: Path, pool: PolicyWorkerPool
) -> None:
    helper = "package lib.naming\n\nbucket_name(r) := r.proposed_state.bucket\n"
    uses_helper = """package spacelift

# regorus resolves imported *rules* through an alias, functions only by their full path.
deny contains "unnamed" if data.lib.naming.bucket_name(input.resource) == ""
"""
    uses_helper_test = """package spacelift_test

import data.spacelift

test_unnamed_bucket if {
	spacelift.deny == {"unnamed"} with input as {"resource": {"proposed_state": {"bucket": ""}}}
}
"""
    write(
        tmp_path,
        {
            "lib/naming.rego": helper,
            "policies/named.rego": uses_helper,
            "policies/named_test.rego": uses_helper_test,
            # Another Intent policy in the tree: its deny must not leak into named's tests.
            "policies/other.rego": POLICY,
        },
    )
    report = run_policy_tests(tmp_path, pool=pool)
    assert report.ok, report
    assert [r.file for r in report.results] == ["policies/named_test.rego"]


def test_v0_files(tmp_path: Path, pool: PolicyWorkerPool) -> None:
    v0_policy = 'package spacelift\n\ndeny[msg] {\n\tinput.x\n\tmsg := "x"\n}\n'
    v0_test = (
        "package spacelift_test\n\nimport data.spacelift\n\n"
        'test_x {\n\tspacelift.deny["x"] with input as {"x": true}\n}\n'
    )
    write(tmp_path, {"p.rego": v0_policy, "p_test.rego": v0_test})
    assert run_policy_tests(tmp_path, rego_version="v0", pool=pool).ok
    assert invoke(str(tmp_path), "--v0")[0] == 0
    assert invoke(str(tmp_path))[0] == 1  # v1 rejects v0 syntax


@pytest.mark.parametrize("bad", ["[", "(?P<"])
def test_a_bad_run_regex_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    write(tmp_path, {"p.rego": POLICY, "p_test.rego": PASSING})
    assert invoke(str(tmp_path), "--run", bad)[0] == 2
