"""Launching plugins: environment allow-list, handshake failures, process cleanup."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cli.datadir import secure_data_dir
from providers import (
    InstalledProvider,
    ProviderAddress,
    ProviderLaunchError,
    ProviderPool,
    build_provider_env,
)
from providers.launcher import _parse_handshake, launch_provider, resolve_accounts
from settings import Settings
from store.secrets import SecretBox
from tests.support.requirements import require


def _fake(tmp_path: Path, body: str) -> InstalledProvider:
    script = tmp_path / "terraform-provider-fake"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return InstalledProvider(
        address=ProviderAddress.parse("example/fake"), version="1.0.0", path=script, sha256="0" * 64
    )


def _alive(pid: int) -> bool:
    try:
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False


def _gone(pid: int) -> bool:
    for _ in range(100):
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_environment_is_allow_listed() -> None:
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "LC_ALL": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "AWS_CA_BUNDLE": "/etc/ssl/ca.pem",
        "AWS_SECRET_ACCESS_KEY": "ambient",
        "INTENT_SECRET_KEY": "server-secret",
        "DATABASE_URL": "postgres://...",
    }
    env = build_provider_env({"AWS_ACCESS_KEY_ID": "AK", "AWS_REGION": "us-east-1"}, parent=parent)
    assert env == {
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_REGION": "us-east-1",
    }
    with pytest.raises(ValueError, match="server setting"):
        build_provider_env({"INTENT_DATABASE_URL": "x"}, parent=parent)
    with pytest.raises(ValueError, match="reserved"):
        build_provider_env({"PLUGIN_CLIENT_CERT": "x"}, parent=parent)
    # HOME is never the worker's (its ~/.aws would be within reach), nor the caller's.
    with pytest.raises(ValueError, match="set by the launcher"):
        build_provider_env({"HOME": "/root"}, parent=parent)


def test_handshake_parsing() -> None:
    assert _parse_handshake("1|5|unix|/tmp/p.sock|grpc|\n", (5, 6)) == (
        5,
        "unix",
        "unix:/tmp/p.sock",
    )
    assert _parse_handshake("1|6|tcp|127.0.0.1:1234|grpc", (6,))[2] == "127.0.0.1:1234"
    for bad, why in [
        ("hello", "not a go-plugin handshake"),
        ("1|4|unix|/x|grpc|", "negotiated protocol 4"),
        ("1|5|unix|/x|netrpc|", "not grpc"),
        ("1|5|unix|/x|grpc|MIIBcert", "mTLS"),
    ]:
        with pytest.raises(ValueError, match=why):
            _parse_handshake(bad, (5, 6))


async def test_handshake_timeout_kills_the_plugin(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    fake = _fake(tmp_path, f"echo $$ > {pidfile}\nenv > {tmp_path / 'env'}\nexec sleep 60")
    started = time.monotonic()
    with pytest.raises(ProviderLaunchError, match="did not complete the plugin handshake"):
        await launch_provider(
            fake, {"FOO": "bar"}, handshake_timeout=1.0, runtime_dir=tmp_path / "rt"
        )
    assert time.monotonic() - started < 15
    assert _gone(int(pidfile.read_text()))
    env = dict(
        line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines() if "=" in line
    )
    assert env["FOO"] == "bar"
    assert env["PLUGIN_PROTOCOL_VERSIONS"] == "6,5"
    assert env["TF_PLUGIN_MAGIC_COOKIE"]
    assert env["PLUGIN_UNIX_SOCKET_DIR"].startswith(str(tmp_path / "rt"))
    assert "PLUGIN_CLIENT_CERT" not in env
    assert not list((tmp_path / "rt").iterdir()), "socket directory not cleaned up"


async def test_plugin_exiting_early_reports_stderr(tmp_path: Path) -> None:
    fake = _fake(tmp_path, 'echo "panic: something broke" >&2\nexit 3')
    with pytest.raises(ProviderLaunchError) as info:
        await launch_provider(fake, handshake_timeout=10)
    assert "exited (code 3)" in str(info.value)
    assert "panic: something broke" in info.value.diagnostics[0].detail


async def test_bad_handshake_and_missing_binary(tmp_path: Path) -> None:
    fake = _fake(tmp_path, 'echo "1|4|unix|/tmp/nowhere|grpc|"\nexec sleep 60')
    with pytest.raises(ProviderLaunchError, match="negotiated protocol 4"):
        await launch_provider(fake, handshake_timeout=10)
    missing = fake.model_copy(update={"path": tmp_path / "nope"})
    with pytest.raises(ProviderLaunchError, match="missing or not executable"):
        await launch_provider(missing)
    old = fake.model_copy(update={"protocol_versions": (4,)})
    with pytest.raises(ProviderLaunchError, match="intent supports"):
        await launch_provider(old)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")
def test_parent_death_kills_the_plugin(tmp_path: Path) -> None:
    # A worker that dies without cleaning up must not leave its providers running.
    code = (
        "import os, subprocess, sys\n"
        "from providers.launcher import _child_preexec\n"
        "me = os.getpid()\n"
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True,"
        " preexec_fn=lambda: _child_preexec(me))\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=os.getcwd()
    )
    pid = int(out.stdout.strip())
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.05)
    assert not _alive(pid)


def _machine_with_a_probe() -> tuple[Path, Settings, InstalledProvider]:
    """A data dir laid out as a worker leaves it, and a "provider" that reports, from
    inside, who it is and what it can read."""
    machine = Path(tempfile.mkdtemp(prefix="intent-machine-", dir="/tmp"))
    machine.chmod(0o755)
    settings = Settings(data_dir=machine / "data")
    secure_data_dir(settings)
    SecretBox.from_settings(settings)  # writes data/secret.key
    (settings.data_dir / "intent.db").write_text("pretend database")
    package = settings.resolved_provider_dir / "example/fake/1.0.0/linux_amd64"
    package.mkdir(parents=True)
    key, db = settings.data_dir / "secret.key", settings.data_dir / "intent.db"
    probe = _fake(
        package,
        f"""echo "uid=$(id -u)" >&2
echo "home=$HOME" >&2
echo "home_entries=$(ls -A "$HOME" | wc -l)" >&2
cat {key} >/dev/null 2>&1 && echo key=readable >&2 || echo key=denied >&2
cat {db} >/dev/null 2>&1 && echo db=readable >&2 || echo db=denied >&2
ls {settings.data_dir} >/dev/null 2>&1 && echo listing=allowed >&2 || echo listing=denied >&2
exit 3""",
    )
    secure_data_dir(settings)  # what a starting worker does: publish the providers
    return machine, settings, probe


async def test_provider_runs_unprivileged_and_cannot_read_our_files(
    provider_runtime_dir: Path,
) -> None:
    machine, settings, probe = _machine_with_a_probe()
    try:
        pool = ProviderPool(settings, runtime_dir=provider_runtime_dir)
        with pytest.raises(ProviderLaunchError) as info:
            await pool.schema(probe)
        await pool.aclose()
    finally:
        shutil.rmtree(machine, ignore_errors=True)
    seen = dict(
        line.split("=", 1) for line in info.value.diagnostics[0].detail.splitlines() if "=" in line
    )
    assert seen["home"].startswith(str(provider_runtime_dir)) and seen["home_entries"] == "0"
    if os.geteuid() == 0:
        assert int(seen["uid"]) == pwd.getpwnam("nobody").pw_uid != 0
        assert seen["key"] == seen["db"] == seen["listing"] == "denied"
    else:
        assert int(seen["uid"]) == os.geteuid()


def test_a_root_worker_never_runs_providers_as_root() -> None:
    if os.geteuid() != 0:
        assert resolve_accounts("") is None  # they run as the worker's own user
        return
    with pytest.raises(ProviderLaunchError, match="INTENT_PROVIDER_USER is empty"):
        resolve_accounts("")
    with pytest.raises(ProviderLaunchError, match="is root"):
        resolve_accounts("root")
    assert resolve_accounts("", allow_root=True) is None  # the admin said so, loudly


async def test_each_provider_process_gets_its_own_uid_from_a_range(
    provider_runtime_dir: Path,
) -> None:
    require(os.geteuid() == 0, "a root worker (only root gives providers other accounts)")
    machine, settings, probe = _machine_with_a_probe()
    settings = settings.model_copy(update={"provider_uid_range": "2000000-2000099"})
    seen: list[dict[str, str]] = []
    try:
        pool = ProviderPool(settings, runtime_dir=provider_runtime_dir)
        for _ in range(2):
            with pytest.raises(ProviderLaunchError) as info:
                await pool.schema(probe)
            detail = info.value.diagnostics[0].detail
            seen.append(dict(line.split("=", 1) for line in detail.splitlines() if "=" in line))
        await pool.aclose()
    finally:
        shutil.rmtree(machine, ignore_errors=True)
    uids = [int(s["uid"]) for s in seen]
    assert len(set(uids)) == 2 and all(2000000 <= u <= 2000099 for u in uids)
    assert all(s["key"] == s["db"] == "denied" for s in seen)
