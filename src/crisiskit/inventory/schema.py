"""The inventory JSON Schema, shipped as `inventory.schema.json` for editors."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def inventory_schema() -> dict[str, Any]:
    """Return the JSON Schema of `inventory.yaml`, generated from the pydantic models."""
    from crisiskit.inventory.models import Inventory

    body = Inventory.model_json_schema()
    return {"$schema": SCHEMA_DIALECT, **body}


def schema_text() -> str:
    """Return the schema exactly as shipped in `inventory.schema.json`."""
    return json.dumps(inventory_schema(), ensure_ascii=False, indent=2) + "\n"
