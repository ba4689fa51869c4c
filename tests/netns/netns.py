"""Throw-away Linux network namespaces for tests: N hosts on one bridge, nothing else.

Topology: a bridge namespace holding ``br0`` and one veth end per host; each host namespace holds
the other end as ``eth0`` with one address in a private /24, a route for multicast, and no
default route. Every ``ip`` command names its namespace (``ip -n``), so nothing is created in,
moved through or routed to the caller's own namespace: traffic only ever flows between the test
hosts. IPv6 address generation is off on ``eth0`` so the hosts are IPv4-only and deterministic.

Namespace names carry the creating pid (``p2pt-<pid>-<n>-...``); :meth:`Network.close` kills the
processes started in them and deletes them, and :func:`remove_stale` deletes leftovers of runs
whose process is gone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence

PREFIX = "p2pt-"
DEFAULT_SUBNET = "10.213.47.0/24"
COMMAND_TIMEOUT = 10.0  # seconds for any one `ip` command

_counter = itertools.count()


class NetnsUnavailable(Exception):
    """Namespaces cannot be made here; str(exc) says why (for pytest.skip)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ip = shutil.which("ip")
    if ip is None:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed")
    result = subprocess.run(
        [ip, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def check_available() -> None:
    """Raise NetnsUnavailable (with the reason) unless namespaces can be made here."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise NetnsUnavailable("network namespace tests need root")
    if shutil.which("ip") is None:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed")
    probe = f"{PREFIX}{os.getpid()}-probe"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(f"`ip netns add` failed: {result.stderr.strip() or 'unknown error'}")
    _ip("netns", "del", probe, check=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Delete namespaces left by earlier test runs whose process no longer exists."""
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split(" ", 1)[0]
        if not name.startswith(PREFIX):
            continue
        pid_text = name[len(PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            _ip("netns", "del", name, check=False)


class Host:
    """One namespace on the bridge: an address, and ways to run programs inside it."""

    def __init__(self, network: Network, name: str, address: str, prefixlen: int) -> None:
        self.network = network
        self.name = name
        self.address = address
        self.prefixlen = prefixlen
        self.ifname = "eth0"
        self.processes: list[subprocess.Popen[str]] = []

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.address!r})"

    def _argv(self, argv: Sequence[str]) -> list[str]:
        ip = shutil.which("ip") or "ip"
        return [ip, "netns", "exec", self.name, *argv]

    @staticmethod
    def _env(env: Mapping[str, str] | None) -> dict[str, str]:
        merged = dict(os.environ)
        if env:
            merged.update(env)
        return merged

    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        timeout: float = 20.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a program in this host to completion (with a timeout); text output captured."""
        return subprocess.run(
            self._argv(argv),
            env=self._env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def popen(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, **kwargs: object
    ) -> subprocess.Popen[str]:
        """Start a program in this host (its own session); killed when the network closes.

        stdin/stdout are pipes (text, line-buffered) unless overridden; stderr is inherited.
        """
        options: dict[str, object] = {
            "stdin": subprocess.PIPE,
            "stdout": subprocess.PIPE,
            "text": True,
            "bufsize": 1,
        }
        options.update(kwargs)
        process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            self._argv(argv), env=self._env(env), start_new_session=True, **options
        )
        self.processes.append(process)
        return process

    def set_address(self, address: str) -> None:
        """Replace this host's address (same prefix length), as a DHCP renumbering would."""
        ipaddress.ip_address(address)
        _ip("-n", self.name, "addr", "flush", "dev", self.ifname)
        _ip("-n", self.name, "addr", "add", f"{address}/{self.prefixlen}", "dev", self.ifname)
        _ip("-n", self.name, "route", "replace", "224.0.0.0/4", "dev", self.ifname)
        self.address = address

    def use_ipv6_only(self, address: str, prefixlen: int = 64) -> None:
        """Drop IPv4 from this host and give it one IPv6 address (a ULA, fd00::/8)."""
        if not ipaddress.IPv6Address(address).is_private:
            raise ValueError("test hosts get private (ULA) IPv6 addresses only")
        _ip("-n", self.name, "addr", "flush", "dev", self.ifname)
        _ip("-n", self.name, "addr", "add", f"{address}/{prefixlen}", "dev", self.ifname, "nodad")
        _ip("-n", self.name, "-6", "route", "replace", "ff02::/16", "dev", self.ifname)
        self.address = address

    def kill_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()
        self.processes.clear()


class Network:
    """A bridge and `count` hosts on it; use as a context manager or call close()."""

    def __init__(self, count: int, subnet: str = DEFAULT_SUBNET) -> None:
        self.subnet = ipaddress.IPv4Network(subnet)
        run_id = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.bridge_ns = f"{run_id}-br"
        self._namespaces: list[str] = []
        self.hosts: list[Host] = []
        self._spare = iter(list(self.subnet.hosts())[100:])  # addresses for set_address
        try:
            self._add_namespace(self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            # No IGMP snooping: flood multicast to every port, as a dumb switch would.
            _ip("-n", self.bridge_ns, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "addrgenmode", "none", check=False)
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            addresses = list(self.subnet.hosts())
            for index in range(count):
                self.hosts.append(
                    self._add_host(f"{run_id}-h{index}", index, str(addresses[index]))
                )
        except BaseException:
            self.close()
            raise

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)

    def _add_host(self, name: str, index: int, address: str) -> Host:
        self._add_namespace(name)
        port = f"v{index}"
        # Both ends are created inside the bridge namespace; one is moved straight to the host.
        _ip("-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", name)  # fmt: skip
        _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0")
        _ip("-n", self.bridge_ns, "link", "set", port, "addrgenmode", "none", check=False)
        _ip("-n", self.bridge_ns, "link", "set", port, "up")
        _ip("-n", name, "link", "set", "eth0", "addrgenmode", "none", check=False)
        _ip("-n", name, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "route", "replace", "224.0.0.0/4", "dev", "eth0")
        return Host(self, name, address, self.subnet.prefixlen)

    def spare_address(self) -> str:
        """An unused address in the subnet (for set_address)."""
        return str(next(self._spare))

    def close(self) -> None:
        """Kill every process started in the hosts, then delete every namespace. Idempotent."""
        for host in self.hosts:
            host.kill_processes()
        for name in reversed(self._namespaces):
            _ip("netns", "del", name, check=False)
        self._namespaces.clear()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
