"""Commands: activate (registered on crisiskit.cli.app.app)."""

from __future__ import annotations
