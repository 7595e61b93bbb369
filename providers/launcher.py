"""Start a provider plugin process and connect to it (go-plugin handshake).

How a provider starts:

1. We exec the binary with an allow-listed environment plus go-plugin's magic cookie
   and the protocol versions we speak (``PLUGIN_PROTOCOL_VERSIONS=5,6``).
2. The plugin listens on a unix socket (in a private directory we choose) and prints
   one line on stdout: ``CORE|APP-PROTOCOL|NETWORK|ADDRESS|PROTOCOL[|CERT]``.
3. We open a plaintext gRPC channel to that socket. No mTLS: grpcio cannot complete
   go-plugin's automatic mTLS (P-521 certificates), so ``PLUGIN_CLIENT_CERT`` is never
   set; the socket lives in a 0700 directory only our user can enter.

Safety nets: the child gets its own process group (signals go to everything it
spawned), a parent-death signal (it is SIGKILLed if the thread that started it dies,
so a crashed worker leaves no providers behind), and its stderr is drained into debug
logs with a bounded tail kept for error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

from providers._protocol import SUPPORTED_PROTOCOLS, PluginRPC, call_shutdown
from providers.errors import Diagnostic, ProviderLaunchError
from providers.models import InstalledProvider

__all__ = [
    "ALLOWED_PARENT_ENV",
    "MAGIC_COOKIE_KEY",
    "MAGIC_COOKIE_VALUE",
    "ProviderAccounts",
    "ProviderProcess",
    "RunAs",
    "build_provider_env",
    "launch_provider",
    "resolve_accounts",
]

log = logging.getLogger(__name__)

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
GRPC_MAX_MESSAGE = 256 * 1024 * 1024  # GetProviderSchema for hashicorp/aws is ~4.9 MB

# What a provider may inherit from our own environment. Everything else (notably the
# server's INTENT_* secrets and ambient cloud settings such as AWS_CA_BUNDLE) must be
# passed explicitly by the caller. HOME and TMPDIR are never inherited: each process gets
# its own empty private ones, so ~/.aws, ~/.terraformrc and the like of the worker's
# user are out of reach.
ALLOWED_PARENT_ENV = frozenset(
    {
        "PATH",
        "TZ",
        "LANG",
        "LANGUAGE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
    }
)
# Variables that steer go-plugin itself; callers may not override them.
_RESERVED_PREFIXES = ("PLUGIN_", MAGIC_COOKIE_KEY, "TF_REATTACH_PROVIDERS")
_RESERVED_NAMES = frozenset({"HOME", "TMPDIR"})
_SECRET_PREFIX = "INTENT_"

# terraform-plugin-log writes trace-level JSON to stderr unless told otherwise: that is
# CPU spent on every RPC, and provider debug logs can carry request bodies (secrets).
# Callers can still raise these levels through the explicit environment.
_DEFAULT_LOG_LEVELS = {
    # TF_LOG is the fallback of every logger not named below (e.g. the aws provider's
    # HTTP logging, which prints request and response bodies at debug).
    "TF_LOG": "WARN",
    "TF_LOG_SDK": "WARN",
    "TF_LOG_SDK_PROTO": "WARN",
    "TF_LOG_SDK_MUX": "WARN",
    "TF_LOG_SDK_FRAMEWORK": "WARN",
    "TF_LOG_SDK_HELPER_SCHEMA": "WARN",
    "TF_LOG_SDK_HELPER_RESOURCE": "WARN",
    "TF_LOG_PROVIDER": "WARN",
}

_STDERR_TAIL_LINES = 200
_STDERR_TAIL_BYTES = 64 * 1024


def build_provider_env(
    explicit: Mapping[str, str] | None = None,
    *,
    parent: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The child's environment: allow-listed parent variables + what the caller passed.

    ``explicit`` is the provider's own environment (credentials, region, endpoint …),
    chosen by the caller. The server's own ``INTENT_*`` settings never reach a provider,
    not even when passed explicitly (that is a bug in the caller, so it raises).
    """
    parent = os.environ if parent is None else parent
    env = {k: v for k, v in parent.items() if k in ALLOWED_PARENT_ENV or k.startswith("LC_")}
    for key, value in (explicit or {}).items():
        if key.upper().startswith(_SECRET_PREFIX):
            raise ValueError(f"refusing to pass server setting {key} to a provider process")
        if key.startswith(_RESERVED_PREFIXES):
            raise ValueError(f"{key} is reserved for the plugin handshake")
        if key in _RESERVED_NAMES:
            raise ValueError(f"{key} is set by the launcher (a private directory per process)")
        if not isinstance(value, str):
            raise TypeError(f"provider environment values must be strings ({key})")
        env[key] = value
    return env


# -- parent-death signal ----------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _child_preexec(parent_pid: int) -> None:
    # Runs in the forked child before exec: keep it tiny (no locks, no logging).
    # The death signal fires when the *thread* that forked us exits; we always launch
    # from the event loop thread, which lives as long as the worker does.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # parent already gone before prctl took effect
            os._exit(1)


# -- the process handle ---------------------------------------------------------------


class ProviderProcess:
    """One running plugin process with its gRPC channel and protocol-neutral RPCs."""

    def __init__(
        self,
        installed: InstalledProvider,
        proc: asyncio.subprocess.Process,
        socket_dir: Path,
        run_as: RunAs | None = None,
    ) -> None:
        self.installed = installed
        self.run_as = run_as
        self.proc = proc
        self.pid = proc.pid
        self.socket_dir = socket_dir
        self.protocol_version = 0
        self.channel: grpc.aio.Channel | None = None
        self._rpc: PluginRPC | None = None
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
        self._tasks: list[asyncio.Task[None]] = []
        self._broken = False
        self._stopped = False
        self.started_at = time.monotonic()
        self.label = f"{installed.address.short} {installed.version} (pid {proc.pid})"

    # -- state ------------------------------------------------------------------------
    @property
    def rpc(self) -> PluginRPC:
        assert self._rpc is not None, "provider process not connected"
        return self._rpc

    @property
    def alive(self) -> bool:
        """False once the process exited, its channel broke, or it was stopped."""
        return not (self._stopped or self._broken or self.proc.returncode is not None)

    def mark_broken(self) -> None:
        if not self._broken:
            log.warning("provider %s marked broken", self.label)
        self._broken = True

    async def exited(self, grace: float = 0.0) -> bool:
        if self.proc.returncode is not None:
            return True
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        return self.proc.returncode is not None

    def stderr_tail(self, max_bytes: int = _STDERR_TAIL_BYTES) -> str:
        text = "\n".join(self._stderr_tail)
        return text[-max_bytes:]

    # -- I/O draining -----------------------------------------------------------------
    async def _drain(self, stream: asyncio.StreamReader, name: str) -> None:
        # Providers log to stderr (hclog); never let a full pipe block the plugin.
        try:
            while True:
                try:
                    line = await stream.readline()
                except ValueError:  # a line longer than the reader limit
                    line = await stream.read(64 * 1024)
                if not line:
                    return
                text = line.decode(errors="replace").rstrip()
                if name == "stderr":
                    self._stderr_tail.append(text)
                log.debug("[%s %s] %s", self.label, name, text)
        except asyncio.CancelledError:
            raise
        except Exception:  # pragma: no cover - a broken pipe while the process dies
            return

    # -- shutdown ---------------------------------------------------------------------
    async def stop(self, grace: float = 3.0) -> None:
        """Stop gracefully: StopProvider, go-plugin Shutdown, SIGTERM, then SIGKILL.

        Safe to call more than once and on processes that already died.
        """
        if self._stopped:
            return
        was_alive = self.alive
        self._stopped = True
        asked = False
        if was_alive and self._rpc is not None and self.channel is not None:
            with contextlib.suppress(Exception):
                await self._rpc.stop(deadline=min(grace, 2.0))
            try:
                await call_shutdown(self.channel, deadline=min(grace, 2.0))
                asked = True
            except grpc.aio.AioRpcError as exc:
                # go-plugin stops its server inside Shutdown, so the call itself may
                # fail; only a server without the controller makes us signal at once.
                asked = exc.code() != grpc.StatusCode.UNIMPLEMENTED
            except Exception:
                asked = False
        if not await self.exited(grace if asked else 0.2):
            self._signal_group(signal.SIGTERM)
            if not await self.exited(grace):
                self._signal_group(signal.SIGKILL)
                await self.exited(5.0)
        # Anything the provider spawned into its group goes too.
        self._signal_group(signal.SIGKILL)
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.channel.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        log.debug("provider %s stopped (exit %s)", self.label, self.proc.returncode)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)  # the child leads its own group (new session)
        if sig == signal.SIGKILL and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


# Unix socket paths are limited to 107 bytes; the plugin adds "/plugin<10 digits>" to
# our directory, which itself is RUNTIME_DIR/intent-plugin-<8 random chars>.
_MAX_RUNTIME_DIR = 107 - len("/plugin0000000000") - len("/intent-plugin-xxxxxxxx")


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account provider processes run as when the worker is root."""

    uid: int
    gid: int
    name: str

    def can_reach(self, path: Path, *, execute: bool = False) -> bool:
        """Whether this account can traverse to ``path`` (and execute it): the
        permission bits of every directory on the way, as the kernel would check them."""
        path = path.absolute()
        for directory in reversed(path.parents):
            if not self._allowed(directory, 0o1):
                return False
        return self._allowed(path, 0o1 if execute else 0o4)

    def _allowed(self, path: Path, bits: int) -> bool:
        try:
            st = path.stat()
        except OSError:
            return False
        if st.st_uid == self.uid:
            return bool(st.st_mode & (bits << 6))
        if st.st_gid == self.gid:
            return bool(st.st_mode & (bits << 3))
        return bool(st.st_mode & bits)


class ProviderAccounts:
    """Which account each provider process runs as, when the worker is root.

    One account (``INTENT_PROVIDER_USER``) for all, or, with a uid range, a uid of its
    own per process (the user's group): then provider processes of different projects
    cannot reach each other's files or sockets either.
    """

    def __init__(self, base: RunAs, uids: range | None = None) -> None:
        self.base = base
        self.uids = uids
        # Workers on one host start at different places in the range.
        self._next = secrets.randbelow(len(uids)) if uids else 0

    def next(self, in_use: Collection[int] = ()) -> RunAs:
        if not self.uids:
            return self.base
        for _ in range(len(self.uids)):
            uid = self.uids[self._next % len(self.uids)]
            self._next += 1
            if uid not in in_use:
                return RunAs(uid=uid, gid=self.base.gid, name=f"uid {uid}")
        raise ProviderLaunchError("INTENT_PROVIDER_UID_RANGE has no free uid left; widen it")


def _parse_uids(text: str) -> range:
    low, _, high = text.partition("-")
    try:
        uids = range(int(low), int(high or low) + 1)
    except ValueError:
        uids = range(0)
    if not uids or uids.start < 1000:
        raise ProviderLaunchError(
            f"INTENT_PROVIDER_UID_RANGE {text!r} is not a range of unprivileged uids like "
            "2000000-2099999"
        )
    return uids


def resolve_accounts(
    user: str, *, uid_range: str | None = None, allow_root: bool = False
) -> ProviderAccounts | None:
    """The accounts providers run as; None when they run as the worker's own user (the
    worker is not root, or an admin explicitly allowed root)."""
    if os.geteuid() != 0:
        return None
    if not user:
        if allow_root:
            log.warning("providers run as root (INTENT_PROVIDER_ALLOW_ROOT): never in production")
            return None
        raise ProviderLaunchError(
            "the worker runs as root and INTENT_PROVIDER_USER is empty: providers would run as "
            "root; name an unprivileged account (default nobody)"
        )
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ProviderLaunchError(
            f"INTENT_PROVIDER_USER names {user!r}, which is not an account on this machine; "
            "create it or name another unprivileged one (never run providers as root)"
        ) from None
    if entry.pw_uid == 0:
        raise ProviderLaunchError(
            f"INTENT_PROVIDER_USER {user!r} is root; providers must run unprivileged"
        )
    base = RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=user)
    return ProviderAccounts(base, _parse_uids(uid_range) if uid_range else None)


def _make_process_dirs(runtime_dir: Path | None, run_as: RunAs | None) -> Path:
    """A private directory per process holding its socket, its HOME and its TMPDIR.

    Owned by the process's account (mode 0700), so the provider finds no one's dotfiles
    in its HOME, and, when processes have accounts of their own (a uid range), no other
    provider process reaches this one's socket or files.
    """
    if runtime_dir is not None and len(str(runtime_dir.absolute())) > _MAX_RUNTIME_DIR:
        log.warning(
            "provider runtime dir %s is too long for unix sockets; using the temp dir",
            runtime_dir,
        )
        runtime_dir = None
    if runtime_dir is not None:
        # Traversable (not listable) by the provider account, which owns only its own
        # subdirectory below.
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if run_as is not None:
            runtime_dir.chmod(0o711)
    socket_dir = Path(tempfile.mkdtemp(prefix="intent-plugin-", dir=runtime_dir))
    for sub in ("home", "tmp"):
        (socket_dir / sub).mkdir(mode=0o700)
    if run_as is not None:
        for path in (socket_dir, socket_dir / "home", socket_dir / "tmp"):
            os.chown(path, run_as.uid, run_as.gid)
        if not run_as.can_reach(socket_dir):
            shutil.rmtree(socket_dir, ignore_errors=True)
            raise ProviderLaunchError(
                f"provider processes run as {run_as.name}, who cannot reach {socket_dir} (a "
                "parent directory is private); set INTENT_PROVIDER_RUNTIME_DIR to a directory "
                "whose parents are traversable"
            )
    return socket_dir


def _parse_handshake(line: str, allowed: tuple[int, ...]) -> tuple[int, str, str]:
    parts = line.strip().split("|")
    if len(parts) < 5 or parts[0] != "1":
        raise ValueError(f"not a go-plugin handshake line: {line.strip()[:200]!r}")
    try:
        proto_version = int(parts[1])
    except ValueError:
        raise ValueError(f"bad protocol version in handshake: {parts[1]!r}") from None
    network, address, transport = parts[2], parts[3], parts[4]
    if transport != "grpc":
        raise ValueError(f"plugin speaks {transport!r}, not grpc (netrpc plugins are too old)")
    if network not in ("unix", "tcp"):
        raise ValueError(f"unsupported plugin network {network!r}")
    if proto_version not in allowed:
        raise ValueError(
            f"plugin negotiated protocol {proto_version}, we speak {', '.join(map(str, allowed))}"
        )
    if len(parts) > 5 and parts[5]:
        # A certificate means the plugin insists on mTLS, which grpcio cannot do.
        raise ValueError("plugin requires automatic mTLS; this is not supported")
    target = f"unix:{address}" if network == "unix" else address
    return proto_version, network, target


async def launch_provider(
    installed: InstalledProvider,
    env: Mapping[str, str] | None = None,
    *,
    handshake_timeout: float = 60.0,
    runtime_dir: Path | None = None,
    parent_env: Mapping[str, str] | None = None,
    run_as: RunAs | None = None,
) -> ProviderProcess:
    """Start ``installed`` and return a connected ``ProviderProcess``.

    ``env`` is the provider's explicit environment (credentials etc.), merged over the
    allow-listed parent variables. With ``run_as`` the process runs as that account
    (the worker is root; the provider must not be). Raises ``ProviderLaunchError`` (with
    the plugin's stderr tail) when the binary does not start, does not hand-shake within
    ``handshake_timeout`` seconds, or offers no protocol version we speak.
    """
    path = Path(installed.path)
    if not os.access(path, os.X_OK):
        raise ProviderLaunchError(
            f"provider binary {path} is missing or not executable; reinstall "
            f"{installed.address.short} {installed.version}"
        )
    allowed = tuple(v for v in installed.protocol_versions if v in SUPPORTED_PROTOCOLS)
    if not allowed:
        raise ProviderLaunchError(
            f"{installed.address.short} {installed.version} speaks plugin protocol(s) "
            f"{list(installed.protocol_versions)}; intent supports {list(SUPPORTED_PROTOCOLS)}"
        )

    if run_as is not None and not run_as.can_reach(path, execute=True):
        raise ProviderLaunchError(
            f"provider binary {path} cannot be executed by {run_as.name}, the account "
            "providers run as (INTENT_PROVIDER_USER): make the file and its parent directories "
            "readable and traversable by others"
        )
    socket_dir = _make_process_dirs(runtime_dir, run_as)
    child_env = build_provider_env(env, parent=parent_env)
    child_env["HOME"] = str(socket_dir / "home")
    child_env["TMPDIR"] = str(socket_dir / "tmp")
    for key, level in _DEFAULT_LOG_LEVELS.items():
        child_env.setdefault(key, level)
    # A provider's own named logger (TF_LOG_PROVIDER_AWS for hashicorp/aws) does not
    # inherit TF_LOG_PROVIDER; aws logs HTTP bodies (secrets) at debug through it.
    named = "TF_LOG_PROVIDER_" + installed.address.type.upper().replace("-", "_")
    child_env.setdefault(named, "WARN")
    child_env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
    child_env["PLUGIN_PROTOCOL_VERSIONS"] = ",".join(str(v) for v in sorted(allowed, reverse=True))
    child_env["PLUGIN_UNIX_SOCKET_DIR"] = str(socket_dir)

    parent_pid = os.getpid()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env,
            cwd=str(socket_dir / "home"),
            start_new_session=True,  # own session => own process group
            # The credentials change before preexec_fn runs, so the death signal set
            # there survives it (the kernel clears it on a change of credentials).
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
            preexec_fn=lambda: _child_preexec(parent_pid),
            limit=1024 * 1024,
        )
    except OSError as exc:
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise ProviderLaunchError(f"could not start provider {path}: {exc}") from exc

    handle = ProviderProcess(installed, proc, socket_dir, run_as)
    assert proc.stdout is not None and proc.stderr is not None
    handle._tasks.append(asyncio.create_task(handle._drain(proc.stderr, "stderr")))
    try:
        try:
            line_b = await asyncio.wait_for(proc.stdout.readline(), handshake_timeout)
        except TimeoutError:
            raise ProviderLaunchError(
                f"{handle.label} did not complete the plugin handshake within "
                f"{handshake_timeout:.0f}s (machine overloaded, or not a Terraform provider?)",
                [Diagnostic.error("Plugin handshake timed out", handle.stderr_tail())],
            ) from None
        if not line_b:
            await handle.exited(2.0)
            raise ProviderLaunchError(
                f"{handle.label} exited (code {proc.returncode}) before the plugin handshake",
                [Diagnostic.error("Plugin exited during startup", handle.stderr_tail())],
            )
        try:
            version, _network, target = _parse_handshake(line_b.decode(errors="replace"), allowed)
        except ValueError as exc:
            raise ProviderLaunchError(
                f"{handle.label}: {exc}",
                [Diagnostic.error("Plugin handshake failed", handle.stderr_tail())],
            ) from None
        handle.protocol_version = version
        handle._tasks.append(asyncio.create_task(handle._drain(proc.stdout, "stdout")))
        channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE),
                ("grpc.max_send_message_length", GRPC_MAX_MESSAGE),
                # The authority is meaningless on a unix socket; keep it fixed.
                ("grpc.default_authority", "plugin"),
            ],
        )
        handle.channel = channel
        try:
            await asyncio.wait_for(channel.channel_ready(), handshake_timeout)
        except TimeoutError:
            raise ProviderLaunchError(
                f"{handle.label}: gRPC channel to {target} did not become ready",
                [Diagnostic.error("Plugin connection failed", handle.stderr_tail())],
            ) from None
        handle._rpc = PluginRPC(
            channel,
            version,
            label=handle.label,
            on_broken=handle.mark_broken,
            process_exited=handle.exited,
            stderr_tail=handle.stderr_tail,
        )
        log.info("started provider %s, protocol %d", handle.label, version)
        return handle
    except BaseException:
        await handle.stop(grace=0.5)
        raise
