"""Commands: inventory (registered on crisiskit.cli.app.app)."""

from __future__ import annotations
