"""Run the simulator: `serve` for `crisiskit sim serve`, `EmbeddedSimulator` for tests/sandbox.

Both bind a socket first (so port 0 yields a known port before anything is printed), then hand it
to uvicorn. The state file, when given, is loaded at start (a corrupt or foreign file is refused,
never reset) and rewritten atomically after every write.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from crisiskit.errors import InputError
from crisiskit.sim import (
    authmethods,
    calendars,
    cascade,
    channelmessages,
    contacts,
    conversations,
    deleted,
    delta,
    drive,
    groups,
    licences,
    mail,
    mailfolders,
    members,
    teammembers,
    teams,
    users,
)
from crisiskit.sim.app import SimApp
from crisiskit.sim.core import Simulator, load_tenant
from crisiskit.sim.profiles import Profile
from crisiskit.sim.router import Router
from crisiskit.sim.seed import SEATS, seed_tenant

if TYPE_CHECKING:
    from crisiskit.inventory.models import Inventory

START_DEADLINE_S = 10.0
# The endpoint families, in routing order (the first route that matches wins).
FAMILIES = (
    delta,
    users,
    licences,
    deleted,
    groups,
    members,
    teams,
    drive,
    authmethods,
    mail,
    mailfolders,
    conversations,
    calendars,
    contacts,
    channelmessages,
    teammembers,
)


def build_router() -> Router:
    """Build the router of every endpoint family, with their declared permissions."""
    return Router(FAMILIES)


def build_simulator(
    *,
    inventory: Inventory | None = None,
    state_file: Path | None = None,
    profile: str = "instant",
    scale: float = 1.0,
    seed: int = 0,
    empty: bool = False,
    seats: int | None = None,
) -> Simulator:
    """Create a simulator: reload `state_file` if it exists, else seed a new tenant.

    `seats`: the seeded SKU's seats (default 250); on a reloaded tenant, its SKUs are set to it.
    """
    try:
        behaviour = Profile.named(profile, scale)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    sim = Simulator(profile=behaviour, seed=seed, state_file=state_file, router=build_router())
    sim.before_dispatch = cascade.expire
    if state_file is not None and state_file.exists():
        try:
            sim.tenant = load_tenant(state_file)
        except (ValueError, OSError) as exc:
            raise InputError(
                f"refusing to start: {exc}. The file was left untouched; move it away or pass "
                "another --state FILE."
            ) from None
    else:
        if not empty:
            seed_tenant(sim, inventory, SEATS if seats is None else seats)
        sim.save()
    if seats is not None:
        for sku in sim.tenant.skus.values():
            sku["prepaidUnits"]["enabled"] = seats
    sim.mark_initial()
    return sim


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says so; without it every response waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(app: SimApp, on_started: Any = None, http: str = "auto") -> Any:
    """Build the uvicorn server (it handles SIGINT/SIGTERM itself, in the main thread only).

    `on_started` runs once the server accepts connections and its signal handlers are in place,
    so whoever reads the printed URL can use it, and stop the server, at once.
    """
    import uvicorn

    class Server(uvicorn.Server):  # type: ignore[misc]
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if on_started is not None and not self.should_exit:
                on_started()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, so the process
            # would die of the signal; a stopped simulator is a normal end: exit 0.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            stops = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=http,  # "auto": httptools when installed (about a third less CPU), else h11
        server_header=False,
        date_header=False,  # the app dates answers on the simulated clock
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
    )
    return Server(config)


def is_loopback(host: str) -> bool:
    """Tell whether `host` is a loopback address (or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    state_file: Path | None = None,
    profile: str = "instant",
    scale: float = 1.0,
    seed: int = 0,
    token: str | None = None,
    roles: tuple[str, ...] | None = None,
    empty: bool = False,
    inventory: Inventory | None = None,
    seats: int | None = None,
    json_line: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM; the base URL is the first line printed on stdout.

    `roles` are the application roles a token holds (default: README's least-privilege set).
    With `json_line` the first line is a JSON object instead (`--output json`):
    {"base_url": ..., "control_url": ...}.
    """
    sim = build_simulator(
        inventory=inventory,
        state_file=state_file,
        profile=profile,
        scale=scale,
        seed=seed,
        empty=empty,
        seats=seats,
    )
    sock = _bind(host, port)
    bound = sock.getsockname()[1]

    def announce() -> None:
        base = f"http://{url_host(host)}:{bound}"
        if json_line:
            import json

            print(json.dumps({"base_url": f"{base}/v1.0", "control_url": f"{base}/_sim/"}),
                  flush=True)
        else:
            print(f"{base}/v1.0", flush=True)
        if not is_loopback(host):
            print(
                f"warning: the simulator listens on {host}, reachable from other machines; it "
                "accepts any token unless --token is given.",
                file=sys.stderr,
                flush=True,
            )
        print(
            f"profile {sim.profile.name} (scale {sim.profile.scale}), seed {seed}, state "
            f"{state_file or 'in memory'}; control API at http://{url_host(host)}:{bound}/_sim/",
            file=sys.stderr,
            flush=True,
        )

    server = _server(SimApp(sim, token=token, roles=roles), announce)
    server.run(sockets=[sock])


class EmbeddedSimulator:
    """A simulator served on 127.0.0.1:0 from a background thread, with a small control client.

        with EmbeddedSimulator(inventory) as sim:
            sim.base_url      # "http://127.0.0.1:PORT/v1.0"
            sim.state()       # GET /_sim/state
    """

    def __init__(
        self,
        inventory: Inventory | None = None,
        state_file: Path | None = None,
        profile: str = "instant",
        seed: int = 0,
        token: str | None = None,
        empty: bool = False,
        scale: float = 1.0,
        http: str = "auto",
        roles: tuple[str, ...] | None = None,
        seats: int | None = None,
    ) -> None:
        self.http = http
        self.simulator = build_simulator(
            inventory=inventory,
            state_file=state_file,
            profile=profile,
            scale=scale,
            seed=seed,
            empty=empty,
            seats=seats,
        )
        self.app = SimApp(self.simulator, token=token, roles=roles)
        self.token = token or "sim-token"
        self._sock = _bind("127.0.0.1", 0)
        self.port: int = self._sock.getsockname()[1]
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1.0"
        self.state_url = f"{self.root_url}/_sim/state"
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._control: Any = None

    def start(self) -> EmbeddedSimulator:
        """Start serving; return once the server accepts connections (or raise)."""
        import httpx

        self._server = _server(self.app, http=self.http)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_DEADLINE_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded simulator did not start")
            time.sleep(0.005)
        self._control = httpx.Client(base_url=self.root_url, timeout=10.0)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (bounded)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._sock.close()

    def __enter__(self) -> EmbeddedSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- control client ----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._control is None:
            raise RuntimeError("the embedded simulator is not running")
        resp = self._control.request(method, path, json=body)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def state(self) -> dict[str, Any]:
        """Return `GET /_sim/state`."""
        result: dict[str, Any] = self._call("GET", "/_sim/state")
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Return the request log (`GET /_sim/requests`)."""
        result: list[dict[str, Any]] = self._call("GET", "/_sim/requests")
        return result

    def set_profile(self, **knobs: Any) -> dict[str, Any]:
        """Change profile knobs (`PUT /_sim/profile`), e.g. `set_profile(drop_rate=1)`."""
        result: dict[str, Any] = self._call("PUT", "/_sim/profile", knobs)
        return result

    def reset(self) -> None:
        """Return to the seeded tenant, instant profile as started, empty log."""
        self._call("POST", "/_sim/reset")

    def seed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add objects (`POST /_sim/seed`; schema in `crisiskit.sim.control`); return their ids."""
        result: dict[str, Any] = self._call("POST", "/_sim/seed", payload)
        return result

    def corrupt_downloads(self, count: int) -> None:
        """Serve the next `count` file downloads with one wrong byte (`POST /_sim/downloads`)."""
        self._call("POST", "/_sim/downloads", {"corruptNext": count})

    def set_faults(self, *rules: dict[str, Any]) -> None:
        """Arm targeted faults (`PUT /_sim/faults`; `crisiskit.sim.faultplan`); none disarms."""
        self._call("PUT", "/_sim/faults", {"rules": list(rules)})

    def set_roles(
        self, roles: list[str], *, token: str | None = None, app_only: bool = True
    ) -> dict[str, Any]:
        """Give `token` (default: every token not registered) these application roles.

        `app_only=False` makes it a delegated token (a signed-in administrator), which is not
        checked against application permissions. `reset()` forgets it.
        """
        body: dict[str, Any] = {"roles": roles, "appOnly": app_only}
        if token is not None:
            body["token"] = token
        result: dict[str, Any] = self._call("PUT", "/_sim/tokens", body)
        return result

    def sign_in(self, user: str, **options: Any) -> dict[str, Any]:
        """Ask whether `user` could sign in now (`POST /_sim/signin`)."""
        result: dict[str, Any] = self._call("POST", "/_sim/signin", {"user": user, **options})
        return result

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (`POST /_sim/clock`)."""
        self._call("POST", "/_sim/clock", {"advance": seconds})

    def client(self, token: str | None = None) -> Any:
        """Return an `httpx.Client` on the Graph base URL with a bearer token."""
        import httpx

        return httpx.Client(
            base_url=self.base_url + "/",
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=10.0,
        )
