"""The YAML loader: safe_load semantics, positions of every node, one-line refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiskit.errors import InputError
from crisiskit.inventory import check_inventory, load_inventory
from crisiskit.inventory.loader import MAX_BYTES, MAX_DEPTH, parse_yaml, read_yaml

SAMPLE = Path(__file__).resolve().parents[2] / "inventory.yaml"


def test_positions_are_recorded_for_values_and_keys() -> None:
    doc = parse_yaml("a:\n  b:\n    - x\n    - {c: 1, d: [2, 3]}\n", "f.yaml")
    assert doc.data == {"a": {"b": ["x", {"c": 1, "d": [2, 3]}]}}
    assert doc.positions["a.b[0]"] == (3, 7)
    assert doc.positions["a.b[1]"] == (4, 7)
    assert doc.positions["a.b[1].c"] == (4, 11)
    assert doc.key_positions["a.b[1].c"] == (4, 8)
    assert doc.positions["a.b[1].d[1]"] == (4, 21)
    assert doc.key_positions["a.b"] == (2, 3)


def test_where_falls_back_to_the_nearest_ancestor() -> None:
    doc = parse_yaml("a:\n  b: 1\n", "f.yaml")
    assert doc.where("a.missing.deeper") == (2, 3)
    assert doc.diagnostic("a.zz", "m").line == 2


def test_the_sample_inventory_reads_as_safe_load_reads_it() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    assert parse_yaml(text, "inventory.yaml").data == yaml.safe_load(text)


def test_anchors_and_merge_keys_behave_like_safe_load() -> None:
    text = (
        "base: &b {x: 1, y: 2}\n"
        "other: &o {z: 9}\n"
        "one:\n  <<: *b\n  y: 3\n"
        "two:\n  <<: [*b, *o]\n  x: 0\n"
        "quoted: {'<<': literal}\n"
        "list: &l [1, 2]\nagain: *l\n"
    )
    assert parse_yaml(text, "f.yaml").data == yaml.safe_load(text)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.text(max_size=20)
    | st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(documents, st.sampled_from([None, True, False]))
def test_any_dumped_document_parses_as_safe_load_parses_it(data: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=flow)
    assert parse_yaml(text, "f.yaml").data == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: 1\na: 2\n", "duplicate key"),
        ("a: {b: 1, b: 2}\n", "duplicate key"),
        ("? [1, 2]\n: x\n", "cannot be used as a key"),
        ("a: !!python/name:os.system\n", "YAML tag !!python/name:os.system is not allowed"),
        ("a: !custom 1\n", "YAML tag !custom is not allowed"),
        ("a: !!set {x}\n", "YAML tag !!set is not allowed"),
        ("a: *nowhere\n", "nowhere"),
        ("a: [1, 2\n", "YAML syntax error"),
        ("a: 1\n---\nb: 2\n", "single YAML document"),
        ("a:\n  <<: 5\n", "merge key"),
    ],
)
def test_refusals_are_one_line_with_a_location(text: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "f.yaml")
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message
    assert message.startswith("f.yaml:")


def test_nesting_is_capped_but_the_cap_itself_is_allowed() -> None:
    ok = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    parse_yaml(f"a: {ok}\n", "f.yaml")
    with pytest.raises(InputError, match="nesting deeper than 64 levels"):
        parse_yaml(f"a: [{ok}]\n", "f.yaml")
    too_deep = "[" * 100_000 + "]" * 100_000  # would overflow a recursive composer
    with pytest.raises(InputError, match="nesting") as caught:
        parse_yaml(too_deep, "f.yaml")
    assert "\n" not in str(caught.value)


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    with pytest.raises(InputError, match="alias bomb"):
        parse_yaml("\n".join(lines), "f.yaml")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_inventory(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: no such inventory"


def test_a_folder_is_not_an_inventory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        load_inventory(tmp_path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("tenant: Métropole\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_yaml(path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert str(caught.value) == f"{path}: inventory is 10.0 MB; the limit is 10 MB"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the inventory is empty"),
        ("# only a comment\n", "the inventory is empty"),
        ("~\n", "the inventory is empty"),
        ("- a\n- b\n", "not a list"),
        ("just text\n", "not a str"),
        ("42\n", "not a int"),
    ],
)
def test_empty_or_wrong_root_is_one_line(
    write_inventory: Any, text: str, reason: str
) -> None:
    path = write_inventory(text)
    with pytest.raises(InputError) as caught:
        check_inventory(path)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
