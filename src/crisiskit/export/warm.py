"""Import what an export will need in a background thread, while its first reads wait.

The exporters import their libraries on first use (numpy for the quickXorHash check,
icalendar and vobject, jinja2, the exporters themselves): done then, in the middle of the
transfers, each import holds the interpreter (profiled on bench/teardown.py: the first hash
check stalled every download finishing behind numpy's import). `warm()` is called once the
export holds its lease: reading the scope takes round trips during which the process only
waits, and a daemon thread imports the modules meanwhile. Python's import lock makes a later import
of a module wait for the one under way, never run it twice; a module that fails to import
here is imported again where it is used, and fails there, where the error is reported.
"""

from __future__ import annotations

import importlib
import threading

MODULES = (
    "crisiskit.export.mail",
    "crisiskit.export.drive",
    "crisiskit.export.calendar",
    "crisiskit.export.channels",
    "crisiskit.export.conversations",
    "numpy",
    "icalendar",
    "vobject",
    "jinja2",
)


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - imported again where it is used (docstring)
            continue


def warm() -> threading.Thread:
    """Start importing `MODULES` in a daemon thread; return it."""
    thread = threading.Thread(target=_import_all, name="crisiskit-export-warm", daemon=True)
    thread.start()
    return thread
