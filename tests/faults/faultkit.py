"""Drive the real CLI and a separately started simulator, and read back what happened.

The fault tests treat crisiskit as a black box: `crisiskit sim serve` runs in one subprocess,
`crisiskit activate` in another (reaching it through `CRISISKIT_GRAPH_URL` +
`CRISISKIT_GRAPH_TOKEN`), and every assertion reads the simulator's control API
(`/_sim/state`, `/_sim/requests`) or the files crisiskit left under its home.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import yaml

from loopback import LoopbackProxy

REPO = Path(__file__).resolve().parents[2]
SAMPLE_INVENTORY = REPO / "inventory.yaml"
PLAYBOOKS = REPO / "playbooks"
TOKEN = "faults-test-token"
COMMUNE = "aubagne"
SERVER_START_S = 30.0
CLI_TIMEOUT_S = 120.0

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


# --------------------------------------------------------------------------- inventories


def load_sample() -> dict[str, Any]:
    """Return the repository's sample inventory as plain YAML data."""
    data = yaml.safe_load(SAMPLE_INVENTORY.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "the sample inventory is not a mapping"
    return data


def luhn_digit(body: str) -> str:
    """Return the Luhn check digit of a string of digits (IMEIs end with one)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def extra_devices(data: dict[str, Any], laptops: int, phones: int) -> None:
    """Append generated available devices to an inventory, shaped like its first entries."""
    devices = data["devices"]
    lap_proto = devices["laptops"][0]
    ph_proto = devices["phones"][0]
    for n in range(laptops):
        lap = copy.deepcopy(lap_proto)
        lap["asset_tag"] = f"ZZ-PC-{n:04d}"
        lap["serial"] = f"ZZSERIAL{n:06d}"
        lap["status"] = "available"
        devices["laptops"].append(lap)
    for n in range(phones):
        ph = copy.deepcopy(ph_proto)
        ph["asset_tag"] = f"ZZ-TEL-{n:04d}"
        body = f"35{n:012d}"
        ph["imei"] = body + luhn_digit(body)
        # 07 99 xx xx xx: a valid French mobile range the sample does not use.
        ph["number"] = f"+33799{n:06d}"
        ph["status"] = "available"
        devices["phones"].append(ph)


def person(
    given: str,
    surname: str,
    *,
    role: str = "agent",
    owner: bool = False,
    laptop: bool = False,
    phone: bool = False,
    proto: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return one roster entry as inventory YAML data."""
    entry = copy.deepcopy(proto) if proto else {}
    entry.update(
        {
            "given_name": given,
            "surname": surname,
            "role": role,
            "team_owner": owner,
            "laptop": laptop,
            "phone": phone,
        }
    )
    return entry


def commune_of(data: dict[str, Any], commune: str = COMMUNE) -> dict[str, Any]:
    for c in data["communes"]:
        if c["id"] == commune:
            assert isinstance(c, dict)
            return c
    raise AssertionError(f"commune {commune} not in the sample inventory")


def write_inventory(
    directory: Path,
    *,
    roster: list[dict[str, Any]] | None = None,
    commune: str = COMMUNE,
    extra_laptops: int = 0,
    extra_phones: int = 0,
    playbook: str | None = None,
    playbook_patch: dict[str, Any] | None = None,
) -> Path:
    """Write the sample inventory (optionally with another roster) and its playbooks.

    `playbook_patch` is merged (one level deep) into every playbook, e.g. to shorten the
    readiness deadlines.
    """
    directory.mkdir(parents=True, exist_ok=True)
    data = load_sample()
    c = commune_of(data, commune)
    if roster is not None:
        proto = c["roster"][0] if c["roster"] else None
        c["roster"] = [{**(copy.deepcopy(proto) or {}), **p} for p in roster]
    if playbook is not None:
        c["playbook"] = playbook
    if extra_laptops or extra_phones:
        extra_devices(data, extra_laptops, extra_phones)
    path = directory / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    pb = directory / "playbooks"
    pb.mkdir(exist_ok=True)
    for f in PLAYBOOKS.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if playbook_patch:
            book = yaml.safe_load(text)
            for key, value in playbook_patch.items():
                if isinstance(value, dict) and isinstance(book.get(key), dict):
                    book[key] = {**book[key], **value}
                else:
                    book[key] = value
            text = yaml.safe_dump(book, allow_unicode=True, sort_keys=False)
        (pb / f.name).write_text(text, encoding="utf-8")
    return path


def generated_roster(size: int) -> list[dict[str, Any]]:
    """Return a deterministic roster of `size` people with accents, homonyms and owners."""
    given = ["Élodie", "Jean", "Marie-Hélène", "François", "Anaïs", "Loïc", "Zoé", "Hervé"]
    surnames = ["N'Diaye", "Le Goff", "Martin", "Lefèvre", "Garçon", "Dubœuf", "Roux", "Noël"]
    roles = ["maire", "dgs", "dsi", "communication", "police_municipale", "agent"]
    out: list[dict[str, Any]] = []
    for i in range(size):
        g, s = given[i % len(given)], surnames[(i // len(given) + i) % len(surnames)]
        if i % 7 == 6:  # a homonym of someone earlier in the roster
            g, s = out[i - 6]["given_name"], out[i - 6]["surname"]
        out.append(
            person(
                g,
                s,
                role=roles[i % len(roles)],
                owner=i < 3,
                laptop=i % 2 == 0,
                phone=i % 3 != 2,
            )
        )
    return out


# --------------------------------------------------------------------------- processes


def child_env(home: Path, inventory: Path, base_url: str | None = None) -> dict[str, str]:
    """Return the environment of a crisiskit child process: its own home, no colour, wide."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRISISKIT_", "AZURE_", "PYTEST_", "COV_"))
    }
    env.update(
        {
            "CRISISKIT_HOME": str(home),
            "CRISISKIT_INVENTORY": str(inventory),
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "200",
            "USER": "faults-tester",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if base_url is not None:
        env["CRISISKIT_GRAPH_URL"] = base_url
        env["CRISISKIT_GRAPH_TOKEN"] = TOKEN
    return env


def crisiskit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "crisiskit", *args]


@dataclass
class CliResult:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def __str__(self) -> str:
        return (
            f"$ crisiskit {' '.join(self.args)}\n-> exit {self.returncode} "
            f"in {self.seconds:.1f}s\n--- stdout\n{self.stdout[-4000:]}\n"
            f"--- stderr\n{self.stderr[-4000:]}"
        )


def run_cli(
    args: Sequence[str],
    env: dict[str, str],
    *,
    timeout: float = CLI_TIMEOUT_S,
    stdin: str | None = None,
) -> CliResult:
    """Run crisiskit to completion under a deadline and return its outcome."""
    t0 = time.monotonic()
    proc = subprocess.run(
        crisiskit_cmd(*args),
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    return CliResult(args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


@dataclass
class RunningCli:
    """A crisiskit child started in the background, its output captured to files."""

    args: Sequence[str]
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    started: float = field(default_factory=time.monotonic)

    def kill(self) -> int:
        """SIGKILL the child (no cleanup can run) and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def wait(self, timeout: float = CLI_TIMEOUT_S) -> CliResult:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return self.result(rc)

    def result(self, rc: int) -> CliResult:
        return CliResult(
            self.args,
            rc,
            self.out.read_text(encoding="utf-8", errors="replace"),
            self.err.read_text(encoding="utf-8", errors="replace"),
            time.monotonic() - self.started,
        )


def start_cli(args: Sequence[str], env: dict[str, str], logdir: Path, tag: str) -> RunningCli:
    """Start crisiskit in the background with stdout/stderr captured to files."""
    out = logdir / f"{tag}.stdout"
    err = logdir / f"{tag}.stderr"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            crisiskit_cmd(*args), env=env, stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=REPO
        )
    return RunningCli(args, proc, out, err)


class SimServer:
    """A `crisiskit sim serve --port 0` subprocess and a client for its control API."""

    def __init__(
        self,
        workdir: Path,
        inventory: Path,
        *,
        profile: str = "instant",
        seed: int = 7,
        scale: float | None = None,
        knobs: dict[str, Any] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.state_file = workdir / "tenant.json"
        self.stdout_file = workdir / "sim.stdout"
        self.stderr_file = workdir / "sim.stderr"
        args = [
            "-i", str(inventory), "sim", "serve", "--host", "127.0.0.1", "--port", "0",
            "--state", str(self.state_file), "--profile", profile, "--seed", str(seed),
            "--token", TOKEN,
        ]  # fmt: skip
        if scale is not None:
            args += ["--scale", str(scale)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRISISKIT_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.stdout_file.open("wb") as o, self.stderr_file.open("wb") as e:
            self.proc = subprocess.Popen(
                crisiskit_cmd(*args), env=env, stdout=o, stderr=e, stdin=subprocess.DEVNULL
            )
        self.base_url = self._first_line()
        assert self.base_url.startswith("http://127.0.0.1:") and self.base_url.endswith("/v1.0"), (
            f"unexpected first line of `sim serve`: {self.base_url!r}"
        )
        self.root_url = self.base_url[: -len("/v1.0")]
        self.http = httpx.Client(
            base_url=self.root_url, timeout=30.0, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        if knobs:
            self.set_profile(**knobs)

    def _first_line(self) -> str:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            text = self.stdout_file.read_text(encoding="utf-8", errors="replace")
            if "\n" in text:
                return text.split("\n", 1)[0].strip()
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"`crisiskit sim serve` exited {self.proc.returncode}: "
                    + self.stderr_file.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.02)
        self.close()
        raise AssertionError(f"`crisiskit sim serve` printed no URL within {SERVER_START_S}s")

    # control API
    def state(self) -> dict[str, Any]:
        r = self.http.get("/_sim/state")
        r.raise_for_status()
        data = r.json()
        assert isinstance(data, dict)
        return data

    def signs_in(self, user: str, tap: str) -> bool:
        """Tell whether `user` could sign in now with this Temporary Access Pass."""
        r = self.http.post("/_sim/signin", json={"user": user, "temporaryAccessPass": tap})
        r.raise_for_status()
        return bool(r.json()["allowed"])

    def requests(self) -> list[dict[str, Any]]:
        r = self.http.get("/_sim/requests")
        r.raise_for_status()
        data = r.json()
        if isinstance(data, dict):  # tolerate {"value": [...]} / {"requests": [...]}
            data = data.get("requests", data.get("value", []))
        assert isinstance(data, list)
        return data

    def settle(self, quiet_s: float = 0.3, within_s: float = 10.0) -> None:
        """Wait until no request has been logged for `quiet_s`.

        A killed client's requests already on the wire are still served (after the latency),
        as the real service would: look at the tenant only once they have landed.
        """
        deadline = time.monotonic() + within_s
        seen = len(self.requests())
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = len(self.requests())
            if now == seen:
                return
            seen = now
        raise AssertionError(f"the simulator kept receiving requests for {within_s}s")

    def profile(self) -> dict[str, Any]:
        r = self.http.get("/_sim/profile")
        r.raise_for_status()
        data = r.json()
        assert isinstance(data, dict)
        return data

    def set_profile(self, **knobs: Any) -> None:
        r = self.http.put("/_sim/profile", json=knobs)
        assert r.status_code < 300, f"PUT /_sim/profile {knobs}: {r.status_code} {r.text}"

    def reset(self) -> None:
        r = self.http.post("/_sim/reset")
        assert r.status_code < 300, f"POST /_sim/reset: {r.status_code} {r.text}"

    def seed(self, payload: dict[str, Any]) -> None:
        r = self.http.post("/_sim/seed", json=payload)
        assert r.status_code < 300, f"POST /_sim/seed: {r.status_code} {r.text}"

    def close(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordingProxy(LoopbackProxy):
    """A loopback HTTP proxy in front of the simulator that keeps every request body.

    The simulator, like Graph, never gives a user's password back; to prove crisiskit does not
    leak the passwords it generates, the test has to see them on the wire.
    """

    def __init__(
        self, upstream_root: str, *, hold_if: bytes | None = None, hold_s: float = 0.0
    ) -> None:
        """Forward to `upstream_root`; hold back for `hold_s` the answer to any request whose
        body contains `hold_if` (the request itself reaches the simulator at once)."""
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._hold_if, self._hold_s = hold_if, hold_s
        super().__init__(upstream_root)

    def exchange(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self._lock:
            self.bodies.append(body)
        resp = self.forward(handler, body)
        if self._hold_if is not None and self._hold_if in body:
            time.sleep(self._hold_s)
        self.reply(handler, resp)

    def json_bodies(self) -> list[Any]:
        out = []
        for b in list(self.bodies):
            try:
                out.append(json.loads(b))
            except (ValueError, UnicodeDecodeError):
                continue
        return out


def find_values(doc: Any, key: str) -> list[Any]:
    """Return every value stored under `key` anywhere in a JSON document."""
    out: list[Any] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == key:
                out.append(v)
            out.extend(find_values(v, key))
    elif isinstance(doc, list):
        for v in doc:
            out.extend(find_values(v, key))
    return out


# --------------------------------------------------------------------------- request log


def is_write(entry: dict[str, Any]) -> bool:
    """Tell whether a logged request can change the commune's kit in the tenant.

    A `$batch` POST is only a carrier: its sub-requests are logged on their own (`via`), so the
    carrier counts as a write only through them. The commune lease's requests (its file in the
    root site's library) are crisiskit's coordination, not the kit: `is_lease` tells them.
    """
    method = str(entry.get("method", "")).upper()
    if method not in WRITE_METHODS:
        return False
    return not is_batch_carrier(entry) and not is_lease(entry)


def is_lease(entry: dict[str, Any]) -> bool:
    """Tell whether a logged request is the commune lease's (the root site's library)."""
    from crisiskit.sim.drive import root_drive_id

    path = str(entry.get("path", ""))
    return path.startswith(("/sites/root", f"/drives/{root_drive_id()}"))


def lease_writes(log: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the commune lease's writes (acquire, take over, renew, release)."""
    return [e for e in log if str(e.get("method", "")).upper() in WRITE_METHODS and is_lease(e)]


def is_batch_carrier(entry: dict[str, Any]) -> bool:
    path = str(entry.get("path", ""))
    return path.rstrip("/").endswith("$batch") and entry.get("via") != "$batch"


def writes(log: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if is_write(e)]


def describe(entries: Iterable[dict[str, Any]], limit: int = 40) -> str:
    lines = [
        f"{e.get('method')} {e.get('path')} -> {e.get('status')}"
        + (" (batch)" if e.get("via") else "")
        for e in entries
    ]
    more = f"\n... {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


RETRY_AFTER_TOLERANCE_S = 0.05


def arrival(entry: dict[str, Any], latency_s: float) -> float:
    """Return when a logged request reached the simulator.

    The simulator logs a request when it answers it: at once for a refusal before any effect
    (429, transient 5xx), after the latency otherwise; a `$batch` sub-request is answered when
    its carrier, which waited the latency, is processed.
    """
    t = float(entry["time"])
    refused = entry.get("via") != "$batch" and (
        entry["status"] == 429 or (entry["status"] in (503, 504) and not entry.get("committed"))
    )
    return t if refused else t - latency_s


def retry_after_violations(
    log: list[dict[str, Any]], latency_s: float, retry_after_s: float
) -> list[str]:
    """List the requests sent while the client had been told to wait (Retry-After).

    The client learns of a 429 when its answer arrives, which is when the simulator logs it.
    Any request that reaches the simulator after that moment and before Retry-After has
    elapsed was sent too early (requests already in flight arrive before the moment).
    """
    out = []
    # The simulator logs the Retry-After it sent (fractions of a second, as Graph does).
    told = [
        (float(e["time"]), float(e.get("retryAfter", retry_after_s)))
        for e in log
        if e["status"] == 429
    ]
    for t429, wait in told:
        for e in log:
            if e.get("via") != "$batch" and str(e["path"]).rstrip("/").endswith("$batch"):
                at = float(e["time"]) - latency_s  # the carrier itself
            else:
                at = arrival(e, latency_s)
            if t429 + RETRY_AFTER_TOLERANCE_S < at < t429 + wait - RETRY_AFTER_TOLERANCE_S:
                out.append(
                    f"{e['method']} {e['path']} sent {at - t429:.3f}s after a 429 "
                    f"(Retry-After {wait:.3f}s)"
                )
    return out


# --------------------------------------------------------------------------- tenant analysis

TAG_SUFFIX = "_crisiskitCommune"


def tag_of(obj: dict[str, Any]) -> str | None:
    """Return the crisiskit commune tag of a user or group, if it carries one."""
    for k, v in obj.items():
        if k.startswith("extension_") and k.endswith(TAG_SUFFIX):
            return str(v) if v is not None else None
    return None


def _type_of(method: dict[str, Any]) -> str:
    t = str(method.get("@odata.type", ""))
    if "temporaryAccessPass" in t or "temporaryAccessPass" in method:
        return "tap"
    if "phone" in t.lower() or "phoneNumber" in method:
        return f"phone:{method.get('phoneType', '?')}"
    return t or "?"


def duplicates(state: dict[str, Any]) -> list[str]:
    """Return every natural key held by more than one object in the simulator's state."""
    problems: list[str] = []

    def check(kind: str, keys: Iterable[Any]) -> None:
        for key, n in Counter(keys).items():
            if n > 1:
                problems.append(f"{n} {kind} with key {key!r}")

    users = state.get("users", [])
    groups = state.get("groups", [])
    check("users", (str(u.get("userPrincipalName", "")).lower() for u in users))
    check("groups", (str(g.get("mailNickname", "")).lower() for g in groups))
    check("teams", (str(t.get("id")) for t in state.get("teams", [])))
    check(
        "channels",
        (
            (c.get("teamId"), str(c.get("displayName", "")).lower())
            for c in state.get("channels", [])
        ),
    )
    check(
        "drive items",
        ((d.get("groupId"), str(d.get("path", "")).lower()) for d in state.get("driveItems", [])),
    )
    check(
        "authentication methods",
        ((m.get("userId"), _type_of(m)) for m in state.get("authenticationMethods", [])),
    )
    return problems


def kit_snapshot(state: dict[str, Any], commune: str = COMMUNE) -> dict[str, Any]:
    """Return the commune's kit by natural keys only (no ids, times or secrets), comparable
    between two runs against fresh simulators."""
    upn_of = {u["id"]: str(u.get("userPrincipalName", "")).lower() for u in state["users"]}
    nick_of = {g["id"]: str(g.get("mailNickname", "")).lower() for g in state["groups"]}
    users = {
        upn_of[u["id"]]: {
            "displayName": u.get("displayName"),
            "mailNickname": u.get("mailNickname"),
            "usageLocation": u.get("usageLocation"),
            "accountEnabled": u.get("accountEnabled"),
            "licences": sorted(str(a.get("skuId")) for a in u.get("assignedLicenses") or []),
        }
        for u in state["users"]
        if tag_of(u) == commune
    }
    groups = {
        nick_of[g["id"]]: {
            "displayName": g.get("displayName"),
            "visibility": g.get("visibility"),
            "groupTypes": sorted(g.get("groupTypes") or []),
            "members": sorted(upn_of.get(m, m) for m in g.get("members", [])),
            "owners": sorted(upn_of.get(m, m) for m in g.get("owners", [])),
        }
        for g in state["groups"]
        if tag_of(g) == commune
    }
    ours = {g["id"] for g in state["groups"] if tag_of(g) == commune}
    teams = sorted(nick_of.get(t["id"], t["id"]) for t in state.get("teams", []) if t["id"] in ours)
    channels = sorted(
        (nick_of.get(c.get("teamId"), "?"), str(c.get("displayName")))
        for c in state.get("channels", [])
        if c.get("teamId") in ours
    )
    items = sorted(
        (nick_of.get(d.get("groupId"), "?"), str(d.get("path")), "folder" in d)
        for d in state.get("driveItems", [])
        if d.get("groupId") in ours
    )
    our_users = {u["id"] for u in state["users"] if tag_of(u) == commune}
    methods = sorted(
        (upn_of[m["userId"]], _type_of(m), str(m.get("phoneNumber", "")))
        for m in state.get("authenticationMethods", [])
        if m.get("userId") in our_users
    )
    seats = {
        str(s.get("skuPartNumber")): s.get("consumedUnits") for s in state.get("subscribedSkus", [])
    }
    deleted = sorted(
        str(d.get("userPrincipalName") or d.get("mailNickname") or d.get("id"))
        for d in state.get("deletedItems", [])
    )
    return {
        "users": users,
        "groups": groups,
        "teams": teams,
        "channels": channels,
        "driveItems": items,
        "authenticationMethods": methods,
        "consumedUnits": seats,
        "deletedItems": deleted,
    }


def diff_snapshots(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Return a readable difference between two kit snapshots (empty when equal)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if isinstance(va, dict) and isinstance(vb, dict):
            for k in sorted(set(va) | set(vb)):
                if va.get(k) != vb.get(k):
                    out.append(f"{key}[{k}]: {va.get(k)!r} != {vb.get(k)!r}")
        elif isinstance(va, list) and isinstance(vb, list):
            sa, sb = {json.dumps(x) for x in va}, {json.dumps(x) for x in vb}
            out.append(f"{key}: only in first {sorted(sa - sb)}; only in second {sorted(sb - sa)}")
            if len(va) != len(set(sa)) or len(vb) != len(set(sb)):
                out.append(f"{key}: lengths {len(va)} vs {len(vb)}")
        else:
            out.append(f"{key}: {va!r} != {vb!r}")
    return "\n".join(out)


def tap_secrets(state: dict[str, Any]) -> list[str]:
    """Return every Temporary Access Pass value the simulator holds (exposed by /_sim only)."""
    return [
        str(m["temporaryAccessPass"])
        for m in state.get("authenticationMethods", [])
        if m.get("temporaryAccessPass")
    ]


# --------------------------------------------------------------------------- local state


def db_rows(home: Path, sql: str) -> list[sqlite3.Row]:
    """Run a read-only query on `$CRISISKIT_HOME/state.db`."""
    con = sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def table_columns(home: Path, table: str) -> list[str]:
    return [r["name"] for r in db_rows(home, f"PRAGMA table_info({table})")]


def open_loans(home: Path) -> list[dict[str, Any]]:
    """Return the open device loans recorded in the state store, as dicts."""
    cols = table_columns(home, "loans")
    assert cols, "state.db has no `loans` table"
    where = ""
    for c in ("returned_at", "returned", "closed_at"):
        if c in cols:
            where = f" WHERE {c} IS NULL" if c != "returned" else " WHERE NOT returned"
            break
    return [dict(r) for r in db_rows(home, f"SELECT * FROM loans{where}")]


def loan_asset(loan: dict[str, Any]) -> str:
    for k in ("asset_tag", "asset", "device", "device_asset_tag"):
        if k in loan:
            return str(loan[k])
    raise AssertionError(f"cannot tell the asset of loan row {loan}")


def loan_account(loan: dict[str, Any]) -> str:
    for k in ("upn", "account", "account_upn", "user_principal_name", "borrower"):
        if k in loan:
            return str(loan[k]).lower()
    raise AssertionError(f"cannot tell the account of loan row {loan}")


def loans_snapshot(home: Path) -> list[tuple[str, str]]:
    return sorted((loan_asset(x), loan_account(x)) for x in open_loans(home))


def home_files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())

