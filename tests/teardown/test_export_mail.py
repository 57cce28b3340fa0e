"""The mail export's `$batch` path: which MIME comes batched, and what a sub-response fault does.

Simulator over loopback, the real CLI, the real SQLite (see world.py).
"""

from __future__ import annotations

import email
import hashlib
import json
from email import policy
from pathlib import Path
from typing import Any

from world import COMMUNE, World, group_of, ours

HEAVY = 600_000  # attachments above BATCHED_ATTACHMENTS (512 KiB): that MIME is streamed


def _export(world: World, folder: Path) -> dict[str, Any]:
    run = world.cli("--output", "json", "export", COMMUNE, "--to", str(folder))
    assert run.exit_code == 0, str(run)
    return json.loads(run.stdout)


def _export_under(
    world: World, folder: Path, *faults: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Export with these fault rules set; return the report and the simulator's log of it."""
    world.sim.set_faults(*faults)
    mark = len(world.sim.requests())
    try:
        report = _export(world, folder)
    finally:
        world.sim.set_faults()
    return report, world.sim.requests()[mark:]


def _mail(folder: Path) -> dict[str, dict[str, Any]]:
    """Return the manifest's .eml entries by the subject part of their name."""
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    return {f["path"]: f for f in manifest["files"] if "/mail/" in f["path"]}


def _value_reads(log: list[dict[str, Any]], mid: str) -> list[dict[str, Any]]:
    return [e for e in log if e["path"].endswith(f"/messages/{mid}/$value")]


def _seed_heavy(world: World) -> None:
    state = world.sim.state()
    group = group_of(state)
    assert group is not None
    owner = next(u["userPrincipalName"] for u in ours(state) if u["id"] == group["owners"][0])
    world.sim.seed({"messages": [
        {"user": owner, "folder": "inbox", "subject": "Image du poste", "from": "soc@x.fr",
         "body": "ci-joint", "attachments": [{"name": "poste.bin", "size": HEAVY, "seed": 3}]},
    ]})


def test_mime_comes_through_batch_unless_its_attachments_are_heavy(
    activated: World, tmp_path: Path
) -> None:
    _seed_heavy(activated)
    mark = len(activated.sim.requests())
    folder = tmp_path / "export"
    report = _export(activated, folder)
    log = activated.sim.requests()[mark:]
    mail = _mail(folder)
    light = next(f for p, f in mail.items() if "Point de situation" in p)  # a 40 KB PDF
    heavy = next(f for p, f in mail.items() if "Image du poste" in p)
    plain = next(f for p, f in mail.items() if "Journal SIEM" in p)  # no attachment
    for entry in (light, plain):
        reads = _value_reads(log, entry["source_id"])
        assert reads and all(e.get("via") == "$batch" for e in reads), reads
    assert [e.get("via") for e in _value_reads(log, heavy["source_id"])] == [None]
    # The sizes were asked for, and only they: no attachment content came with the listing.
    sizes = [e for e in log if e["path"].endswith("/attachments")]
    assert sizes and all(e.get("query", {}).get("$select") == "id,size" for e in sizes)
    assert {e["path"].split("/messages/")[1].split("/")[0] for e in sizes} >= {
        light["source_id"], heavy["source_id"]}
    # Both .eml hold their attachment whole (the batched one was base64 in the sub-response).
    for entry, name, size in ((light, "rapport.pdf", 40_000), (heavy, "poste.bin", HEAVY)):
        message = email.message_from_bytes((folder / entry["path"]).read_bytes(),
                                           policy=policy.default)
        attachment = next(message.iter_attachments())
        assert attachment.get_filename() == name and len(attachment.get_content()) == size
    # Streamed: the 4 drive files and the heavy message only.
    assert report["stats"]["downloads"] == 4 + 1
    assert activated.cli("export", "verify", str(folder)).exit_code == 0


def test_throttled_sub_requests_are_sent_again_and_the_export_completes(
    activated: World, tmp_path: Path
) -> None:
    # One sizes listing and one MIME read, each 429'd inside its $batch (json-batching:
    # each sub-request is throttled on its own): re-sent after the Retry-After, not streamed
    # instead, not lost.
    folder = tmp_path / "export"
    report, log = _export_under(
        activated, folder,
        {"method": "GET", "path": "/attachments", "fault": "throttled", "retryAfter": 0.2},
        {"method": "GET", "path": r"/\$value$", "fault": "throttled", "retryAfter": 0.2},
    )
    throttled = [e for e in log if e["status"] == 429]
    assert len(throttled) == 2 and all(e.get("via") == "$batch" for e in throttled), throttled
    for refused in throttled:
        later = [e for e in log[log.index(refused) + 1:] if e["path"] == refused["path"]]
        assert [e["status"] for e in later] == [200], later
        assert later[0].get("via") == "$batch"
    assert report["stats"]["downloads"] == 4  # the drive files; every MIME came batched
    assert activated.cli("export", "verify", str(folder)).exit_code == 0


def test_a_failed_mime_sub_response_is_read_again_in_a_batch_not_written(
    activated: World, tmp_path: Path
) -> None:
    # The first read of each of the 5 messages' MIME answers 503 inside its $batch: an
    # idempotent GET, re-sent (in a $batch again, not streamed); nothing is written from an
    # error's body, and every .eml is the message.
    folder = tmp_path / "export"
    report, log = _export_under(
        activated, folder,
        {"method": "GET", "path": r"/\$value$", "fault": "unavailable", "count": 5},
    )
    failed = [e for e in log if e["status"] == 503]
    assert len(failed) == 5 and all(e.get("via") == "$batch" for e in failed), failed
    mail = _mail(folder)
    assert len(mail) == 5
    for entry in mail.values():
        reads = _value_reads(log, entry["source_id"])
        assert [e["status"] for e in reads] == [503, 200], reads
        assert all(e.get("via") == "$batch" for e in reads)
        data = (folder / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert email.message_from_bytes(data, policy=policy.default)["Subject"]
    assert report["stats"]["downloads"] == 4  # the drive files only
    assert activated.cli("export", "verify", str(folder)).exit_code == 0
