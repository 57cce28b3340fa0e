"""Read YAML with `yaml.safe_load` semantics while keeping the line and column of every node.

The document is built from the parser's event stream rather than from a composed node tree:
one pass, no recursion (so a deeply nested file cannot blow the stack), and the position of each
value is recorded under its dotted path (`communes[2].roster[0].surname`) as it is built.
Only the standard YAML tags are accepted (no python objects); duplicate keys are an error;
anchors and aliases work but the expanded size is capped, so an alias bomb is refused instead of
exhausting memory in validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crisiskit.errors import Diagnostic, InputError

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000

try:  # libyaml when available: the parse is several times faster
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - pure-python PyYAML
    _Loader = yaml.SafeLoader

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Document:
    """A parsed YAML file: its data and where each dotted path sits in the file."""

    file: str
    data: Any
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # value line/col, 1-based
    key_positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # the key's line/col

    def where(self, path: str, *, key: bool = False) -> tuple[int, int]:
        """Return the position of `path`, or of its nearest recorded ancestor."""
        table = self.key_positions if key else self.positions
        probe = path
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.positions:
                return self.positions[probe]
            if not probe:
                return (1, 1)
            probe = parent_path(probe)

    def diagnostic(self, path: str, message: str, *, key: bool = False) -> Diagnostic:
        """Return a diagnostic located at `path` in this document."""
        line, col = self.where(path, key=key)
        return Diagnostic(self.file, line, col, path, message)


def parent_path(path: str) -> str:
    """Return the dotted path of the container holding `path` ("a.b[2]" → "a.b", "a" → "")."""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def join_path(parent: str, key: object) -> str:
    """Return the dotted path of `key` (a mapping key or a list index) under `parent`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


class _Frame:
    __slots__ = (
        "container", "path", "start", "pending_key", "key_mark", "weight", "anchor", "merges"
    )

    def __init__(self, container: Any, path: str, anchor: str | None, start: tuple[int, int]):
        self.container = container
        self.path = path
        self.start = start
        self.pending_key: Any = _NO_KEY
        self.key_mark: tuple[int, int] = (1, 1)
        self.weight = 1
        self.anchor = anchor
        self.merges: list[dict[Any, Any]] = []


_NO_KEY = object()


def _fail(file: str, mark: Any, message: str) -> InputError:
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return InputError(message, [Diagnostic(file, line, col, "", message)])


def read_yaml(path: Path, *, what: str = "file") -> Document:
    """Parse one YAML file into a `Document`, or raise InputError with a one-line reason.

    Only a regular file is read (a link to one is fine: the file is input, not output). A
    folder, a named pipe, a device, a socket or a link loop is refused before anything is
    read, so nothing can hang or fill memory; the size cap is enforced on the bytes read
    from the opened file, whatever the size on disk says.
    """
    from crisiskit.inputs import read_input

    raw = read_input(path, what, MAX_BYTES)
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_yaml(source, str(path))


def parse_yaml(source: str, file: str) -> Document:
    """Parse YAML text into a `Document` (see the module docstring for what is refused)."""
    doc = Document(file=file, data=None)
    loader = _Loader(source)
    try:
        doc.data = _build(loader, doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        raise _fail(file, mark, f"YAML syntax error: {reason}") from None
    except yaml.reader.ReaderError as exc:
        raise _unreadable_character(source, file, exc) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    return doc


def _unreadable_character(source: str, file: str, exc: yaml.reader.ReaderError) -> InputError:
    """Locate a character YAML refuses to read (a raw control character) as FILE:LINE:COL."""
    from crisiskit.inventory.invisible import describe

    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    index = exc.position
    if not (0 <= index < len(source) and ord(source[index]) == code):
        # libyaml counts bytes of UTF-8, the pure-Python reader characters.
        index = len(source.encode("utf-8")[: exc.position].decode("utf-8", "ignore"))
    line = source.count("\n", 0, index) + 1
    col = index - (source.rfind("\n", 0, index) + 1) + 1
    message = (f"the file contains the control character {describe(chr(code))}, which YAML "
               "does not allow: remove it")
    return InputError(message, [Diagnostic(file, line, col, "", message)])


def _tag_refused(tag: str) -> str:
    shown = "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,") else tag
    return f"YAML tag {shown} is not allowed: plain data only (safe_load semantics)"


def _mark(event: Any) -> tuple[int, int]:
    return (event.start_mark.line + 1, event.start_mark.column + 1)


def _build(loader: yaml.SafeLoader, doc: Document) -> Any:
    file = doc.file
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    total = 0
    root: Any = _NO_KEY
    documents = 0

    def place(value: Any, weight: int, mark: tuple[int, int], start: Any) -> None:
        nonlocal root, total
        total += weight
        if total > MAX_NODES:
            raise _fail(
                file, start, f"document expands to more than {MAX_NODES:,} nodes (alias bomb?)"
            )
        if not stack:
            root = value
            doc.positions[""] = mark
            return
        frame = stack[-1]
        frame.weight += weight
        container = frame.container
        if isinstance(container, list):
            path = join_path(frame.path, len(container))
            container.append(value)
            doc.positions.setdefault(path, mark)
            return
        if frame.pending_key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _fail(file, start, "a mapping or list cannot be used as a key")
            if value == "<<" and getattr(start, "_merge", False):
                frame.pending_key = _MERGE_TAG
            else:
                frame.pending_key = value
            frame.key_mark = mark
            return
        key = frame.pending_key
        frame.pending_key = _NO_KEY
        if key is _MERGE_TAG:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                raise _fail(file, start, "a merge key (<<) needs a mapping or a list of mappings")
            frame.merges.extend(sources)
            return
        if key in container:
            line, col = frame.key_mark
            raise InputError(
                f"duplicate key {key!r}",
                [Diagnostic(file, line, col, join_path(frame.path, key), "duplicate key")],
            )
        path = join_path(frame.path, key)
        container[key] = value
        doc.positions[path] = mark
        doc.key_positions[path] = frame.key_mark

    def child_path() -> str:
        if not stack:
            return ""
        frame = stack[-1]
        if isinstance(frame.container, list):
            return join_path(frame.path, len(frame.container))
        if frame.pending_key is _NO_KEY:
            return frame.path  # a key being built: it will be refused if it is a collection
        return join_path(frame.path, frame.pending_key)

    while loader.check_event():
        event = loader.get_event()  # type: ignore[no-untyped-call]
        kind = type(event)
        if kind is yaml.ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(  # type: ignore[no-untyped-call]
                    yaml.ScalarNode, event.value, event.implicit
                )
            if tag == _MERGE_TAG:
                value: Any = "<<"
                marked: Any = _MergeMark(event.start_mark)
            else:
                constructor = loader.yaml_constructors.get(tag)
                if constructor is None:
                    raise _fail(file, event.start_mark, _tag_refused(tag))
                node = yaml.ScalarNode(
                    tag, event.value, event.start_mark, event.end_mark, event.style
                )
                value = constructor(loader, node)
                marked = event.start_mark
            if event.anchor:
                anchors[event.anchor] = (value, 1)
            place(value, 1, _mark(event), marked)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise _fail(
                    file, event.start_mark, f"nesting deeper than {MAX_DEPTH} levels is refused"
                )
            tag = event.tag
            is_map = kind is yaml.MappingStartEvent
            expected = "tag:yaml.org,2002:map" if is_map else "tag:yaml.org,2002:seq"
            if tag not in (None, "!", expected):
                raise _fail(file, event.start_mark, _tag_refused(tag))
            path = child_path()
            if stack and not isinstance(stack[-1].container, list):
                if stack[-1].pending_key is _NO_KEY:
                    raise _fail(file, event.start_mark, "a mapping or list cannot be used as a key")
            stack.append(_Frame({} if is_map else [], path, event.anchor, _mark(event)))
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = stack.pop()
            value = frame.container
            for source in frame.merges:  # explicit keys win over merged ones, like safe_load
                for k, v in source.items():
                    value.setdefault(k, v)
            if frame.anchor:
                anchors[frame.anchor] = (value, frame.weight)
            total -= frame.weight - 1  # children were already counted as they were placed
            place(value, frame.weight, frame.start, event.start_mark)
        elif kind is yaml.AliasEvent:
            if event.anchor not in anchors:
                raise _fail(file, event.start_mark, f"unknown alias *{event.anchor}")
            value, weight = anchors[event.anchor]
            place(value, weight, _mark(event), event.start_mark)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _fail(file, event.start_mark, "expected a single YAML document, found more")
    if root is _NO_KEY:
        root = None
    return root


class _MergeMark:
    """Mark wrapper flagging that a `<<` key really is a merge key (not a quoted '<<')."""

    _merge = True

    def __init__(self, mark: Any) -> None:
        self.line = mark.line
        self.column = mark.column


_BOUNDS = {
    "string_too_short": "must have at least {} character(s)",
    "string_too_long": "must have at most {} characters",
    "greater_than_equal": "must be at least {}",
    "less_than_equal": "must be at most {}",
    "too_long": "must have at most {} items",
}
_FRIENDLY = {
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "date_parsing": "must be a date written YYYY-MM-DD",
    "date_type": "must be a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date written YYYY-MM-DD, without a time",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be text",
}

# Friendlier words for the patterns of crisiskit's models (pydantic only quotes the regex).
PATTERN_HINTS = {
    r"^[a-z0-9]+(-[a-z0-9]+)*$": "lower-case letters, digits and single hyphens (e.g. aubagne)",
    r"^(\d{2}|2[AB])\d{3}$": "an INSEE code: 5 characters, e.g. 13005 (or 2A004 in Corsica)",
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$": "letters, digits, '.', '_' or '-' (at most 40)",
    r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$": "3 to 40 letters, digits or '-'",
    r"^[a-z][a-z0-9_]{0,39}$": "lower-case snake_case, e.g. police_municipale",
    r"^[a-z0-9]+([._-][a-z0-9]+)*$": "a UPN local part: lower-case ASCII letters, digits, . _ -",
    r"^[A-Z]{2}$": "a two-letter country code such as FR",
    r"^[A-Z0-9_]{2,64}$": "a SKU part number such as O365_BUSINESS_PREMIUM",
}


def _model_at(root: Any, parts: tuple[Any, ...]) -> Any:
    """Return the pydantic model class found by following `parts` from `root`, or None."""
    import typing

    model = root
    for part in parts:
        if isinstance(part, int):
            continue  # list items: the annotation was unwrapped already
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        annotation = fields[part].annotation
        while True:  # unwrap list[X], X | None, Annotated[X, ...] down to a model
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if hasattr(annotation, "model_fields") or not args:
                break
            annotation = args[0]
        model = annotation
    return model if hasattr(model, "model_fields") else None


def _did_you_mean(root: Any, loc: tuple[Any, ...]) -> str:
    import difflib

    model = _model_at(root, loc[:-1]) if root is not None else None
    if model is None:
        return "unknown key"
    names = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (allowed: {', '.join(names)})"


def pydantic_diagnostics(
    doc: Document, error: Any, prefix: str = "", root: Any = None
) -> list[Diagnostic]:
    """Turn a pydantic ValidationError into located diagnostics, one per problem.

    `root` is the model validated, used to suggest the intended name of an unknown key.
    """
    found: list[Diagnostic] = []
    for item in error.errors(include_url=False):
        path = prefix
        for part in item["loc"]:
            path = join_path(path, part)
        kind = item["type"]
        message = str(item["msg"])
        if kind == "value_error" and message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = _did_you_mean(root, tuple(item["loc"]))
        elif kind == "string_pattern_mismatch":
            pattern = (item.get("ctx") or {}).get("pattern", "")
            message = f"must be {PATTERN_HINTS.get(pattern, f'like {pattern}')}"
        elif kind == "string_type" and isinstance(item.get("input"), (int, float)):
            message = "must be text: quote the value (e.g. \"13005\")"
        elif kind in _BOUNDS:
            ctx = item.get("ctx") or {}
            bound = next((ctx[k] for k in ("min_length", "max_length", "ge", "le") if k in ctx), "")
            message = _BOUNDS[kind].format(bound)
        elif kind in _FRIENDLY:
            message = _FRIENDLY[kind]
        elif kind == "enum":
            message = f"must be one of: {(item.get('ctx') or {}).get('expected', '')}"
        if kind == "missing":
            # The field is absent: point at the key of the mapping that should hold it.
            line, col = doc.where(parent_path(path), key=True)
            found.append(Diagnostic(doc.file, line, col, path, message))
        else:
            found.append(doc.diagnostic(path, message, key=kind == "extra_forbidden"))
    return found


_SECRET_WORDS = ("secret", "password", "passwd", "pwd", "token", "private_key", "privatekey",
                 "api_key", "apikey", "credential", "pfx", "pem")
_BARE_SECRETS = {"certificate", "client_certificate", "key", "pass"}
_ALLOWED_SECRETISH = {"certificate_path"}


def secret_key_hint(key: str) -> str | None:
    """Return how to supply the secret a key looks like, or None if it is not secret-looking."""
    name = key.lower().replace("-", "_")
    if name in _ALLOWED_SECRETISH:
        return None
    if not any(word in name for word in _SECRET_WORDS) and name not in _BARE_SECRETS:
        return None
    if "cert" in name and ("pass" in name or "pwd" in name):
        return "set the environment variable AZURE_CLIENT_CERTIFICATE_PASSWORD instead"
    if "cert" in name or "private" in name or "pem" in name or "pfx" in name or name == "key":
        return (
            "keep the certificate in a file and give its path as tenant.certificate_path "
            "(or AZURE_CLIENT_CERTIFICATE_PATH); its password goes in "
            "AZURE_CLIENT_CERTIFICATE_PASSWORD"
        )
    if "token" in name:
        return (
            "tokens are obtained at run time through azure-identity; for a sandbox set "
            "CRISISKIT_GRAPH_TOKEN"
        )
    return "set the environment variable AZURE_CLIENT_SECRET instead"


def strip_secret_keys(doc: Document) -> list[Diagnostic]:
    """Report and remove every secret-looking key: secrets never live in an input file."""
    found: list[Diagnostic] = []
    todo: list[tuple[str, Any]] = [("", doc.data)]
    while todo:
        path, node = todo.pop()
        if isinstance(node, dict):
            for key in list(node):
                child = join_path(path, key)
                hint = secret_key_hint(str(key))
                if hint is not None:
                    found.append(
                        doc.diagnostic(child, f"secrets never live in this file: {hint}", key=True)
                    )
                    del node[key]
                else:
                    todo.append((child, node[key]))
        elif isinstance(node, list):
            todo.extend((join_path(path, i), v) for i, v in enumerate(node))
    return found
