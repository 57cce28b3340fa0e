"""Property: any single edit, deletion, insertion or reordering of audit rows is detected."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crisiskit.state.audit import GENESIS_HASH, entry_hash, verify_chain

FIELDS = ("at", "operator", "commune", "action", "target", "outcome", "request_id")
text = st.text(min_size=0, max_size=12)


def build(contents: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    prev = GENESIS_HASH
    for seq, c in enumerate(contents, start=1):
        h = entry_hash(seq=seq, prev_hash=prev, **c)
        rows.append((seq, c["at"], c["operator"], c["commune"], c["action"], c["target"],
                     c["outcome"], c["request_id"], json.dumps(c["details"]), prev, h))
        prev = h
    return rows


content = st.fixed_dictionaries(
    dict.fromkeys(FIELDS, text)
    | {"details": st.dictionaries(text, st.one_of(text, st.integers()), max_size=3)}
)


@settings(max_examples=150, deadline=None)
@given(contents=st.lists(content, min_size=2, max_size=8), data=st.data())
def test_any_single_tampering_is_detected(contents: list[dict[str, Any]],
                                          data: st.DataObject) -> None:
    rows = build(contents)
    head = (rows[-1][0], rows[-1][-1])
    assert verify_chain(rows, head) == []
    i = data.draw(st.integers(0, len(rows) - 1), label="index")
    how = data.draw(st.sampled_from(["edit", "details", "delete", "duplicate", "swap"]))
    tampered = list(rows)
    if how == "edit":
        column = data.draw(st.integers(1, 7), label="column")
        old = tampered[i][column]
        new = data.draw(text.filter(lambda v: v != old), label="value")
        tampered[i] = (*tampered[i][:column], new, *tampered[i][column + 1:])
    elif how == "details":
        extra = json.loads(tampered[i][8]) | {"forged": True}
        tampered[i] = (*tampered[i][:8], json.dumps(extra), *tampered[i][9:])
    elif how == "delete":
        del tampered[i]
    elif how == "duplicate":
        tampered.insert(i, tampered[i])
    else:
        j = (i + 1) % len(rows)
        tampered[i], tampered[j] = tampered[j], tampered[i]
    assert verify_chain(tampered, head) != []
