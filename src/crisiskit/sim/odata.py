"""OData query helpers for the simulator: `$filter` parsing, `$select`, paging, advanced queries.

Graph splits queries in two: "basic" ones answered by the directory itself (eq/startsWith on a
few properties) and "advanced" ones answered by a lagging index, which Graph only serves when the
caller sends `ConsistencyLevel: eventual` and `$count=true` (else 400 `Request_UnsupportedQuery`).
`Filter.operators` and `Filter.properties` let each family decide which case a query is.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crisiskit.sim.errors import SimError, bad_request, invalid_filter, unsupported_query
from crisiskit.sim.router import SimRequest, SimResponse

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)(?![\w-])
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
    | (?P<name>[A-Za-z_@$][\w.@$]*(?:/[A-Za-z_@$][\w.@$]*)*)
    | (?P<punct>[(),:/])
    )""",
    re.VERBOSE,
)

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le", "in"}
FUNCTIONS = {"startswith", "endswith", "contains"}

Node = Callable[[dict[str, Any], dict[str, Any]], Any]


def _bad_filter(detail: str) -> SimError:
    return invalid_filter(detail)


@dataclass
class Filter:
    """A parsed `$filter`: call it on a Graph JSON object to know whether it matches."""

    expr: str
    node: Node
    operators: set[str] = field(default_factory=set)  # eq, ne, not, startswith, any, ...
    properties: set[str] = field(default_factory=set)  # top-level property paths, as written

    def __call__(self, obj: dict[str, Any]) -> bool:
        return bool(self.node(obj, {}))


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _lookup(obj: Any, path: str) -> Any:
    for part in path.split("/"):
        if not isinstance(obj, dict):
            return None
        if part in obj:
            obj = obj[part]
            continue
        lowered = part.lower()
        for key, value in obj.items():
            if key.lower() == lowered:
                obj = value
                break
        else:
            return None
    return obj


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "in":
        return isinstance(right, list) and _norm(left) in [_norm(v) for v in right]
    a, b = _norm(left), _norm(right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        return bool(
            {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]  # type: ignore[operator]
        )
    except TypeError:
        return False


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        text = expr.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _bad_filter(f"unexpected text at {text[pos:pos + 20]!r}")
            pos = m.end()
            kind = m.lastgroup or ""
            raw = m.group(kind)
            if kind == "str":
                self.tokens.append(("lit", raw[1:-1].replace("''", "'")))
            elif kind == "num":
                self.tokens.append(("lit", float(raw) if "." in raw else int(raw)))
            elif kind == "guid":
                self.tokens.append(("lit", raw))
            elif kind == "name":
                self.tokens.append(("name", raw))
            else:
                self.tokens.append(("punct", raw))
        self.i = 0
        self.operators: set[str] = set()
        self.properties: set[str] = set()
        self.lambda_vars: list[str] = []

    def peek(self, offset: int = 0) -> tuple[str, Any] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise _bad_filter("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok != ("punct", value):
            raise _bad_filter(f"expected {value!r}, found {tok[1]!r}")

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "name" and str(tok[1]).lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Filter:
        node = self.or_expr()
        if self.peek() is not None:
            raise _bad_filter(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return Filter(self.expr, node, self.operators, self.properties)

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.keyword("or"):
            self.operators.add("or")
            right = self.and_expr()
            left = (lambda a, b: lambda o, e: bool(a(o, e)) or bool(b(o, e)))(left, right)
        return left

    def and_expr(self) -> Node:
        left = self.unary()
        while self.keyword("and"):
            self.operators.add("and")
            right = self.unary()
            left = (lambda a, b: lambda o, e: bool(a(o, e)) and bool(b(o, e)))(left, right)
        return left

    def unary(self) -> Node:
        if self.keyword("not"):
            self.operators.add("not")
            inner = self.unary()
            return lambda o, e: not inner(o, e)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        tok = self.peek()
        if tok and tok[0] == "name" and str(tok[1]).lower() in COMPARISONS:
            self.i += 1
            op = str(tok[1]).lower()
            self.operators.add(op)
            right = self.list_literal() if op == "in" else self.operand()
            return lambda o, e: _compare(op, left(o, e), right(o, e))
        return left

    def list_literal(self) -> Node:
        self.expect("(")
        values: list[Any] = []
        while True:
            kind, value = self.take()
            if kind != "lit":
                raise _bad_filter("'in' takes a list of literals")
            values.append(value)
            if self.peek() == ("punct", ","):
                self.i += 1
                continue
            self.expect(")")
            return lambda o, e: values

    def operand(self) -> Node:
        kind, value = self.take()
        if kind == "punct" and value == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if kind == "lit":
            return lambda o, e: value
        if kind != "name":
            raise _bad_filter(f"unexpected {value!r}")
        word = str(value)
        lowered = word.lower()
        if lowered in ("true", "false"):
            literal = lowered == "true"
            return lambda o, e: literal
        if lowered == "null":
            return lambda o, e: None
        if lowered in FUNCTIONS and self.peek() == ("punct", "("):
            return self.function(lowered)
        if self.peek() == ("punct", "(") and "/" in word and word.rsplit("/", 1)[1].lower() in (
            "any",
            "all",
        ):
            return self.lambda_(word)
        return self.path(word)

    def path(self, word: str) -> Node:
        head, _, rest = word.partition("/")
        if head in self.lambda_vars:
            return lambda o, e: _lookup(e[head], rest) if rest else e[head]
        self.properties.add(word)
        return lambda o, e: _lookup(o, word)

    def function(self, name: str) -> Node:
        self.operators.add(name)
        self.expect("(")
        subject = self.operand()
        self.expect(",")
        arg = self.operand()
        self.expect(")")

        def call(o: dict[str, Any], e: dict[str, Any]) -> bool:
            a, b = subject(o, e), arg(o, e)
            if not isinstance(a, str) or not isinstance(b, str):
                return False
            a, b = a.lower(), b.lower()
            if name == "startswith":
                return a.startswith(b)
            if name == "endswith":
                return a.endswith(b)
            return b in a

        return call

    def lambda_(self, word: str) -> Node:
        collection_path, _, kind = word.rpartition("/")
        kind = kind.lower()
        self.operators.add(kind)
        collection = self.path(collection_path)
        self.expect("(")
        if self.peek() == ("punct", ")"):
            self.i += 1
            return lambda o, e: bool(collection(o, e))
        var_kind, var = self.take()
        if var_kind != "name":
            raise _bad_filter("a lambda needs a variable")
        self.expect(":")
        self.lambda_vars.append(str(var))
        body = self.or_expr()
        self.lambda_vars.pop()
        self.expect(")")

        def run(o: dict[str, Any], e: dict[str, Any]) -> bool:
            items = collection(o, e) or []
            results = (bool(body(o, {**e, str(var): item})) for item in items)
            return any(results) if kind == "any" else all(results)

        return run


def parse_filter(expr: str) -> Filter:
    """Parse an OData `$filter` expression; raise a 400 SimError when it is malformed."""
    return _Parser(expr).parse()


def selected(req: SimRequest) -> list[str] | None:
    """Return the `$select` property names of a request, or None when there is no `$select`."""
    raw = req.query.get("$select")
    if raw is None:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def apply_select(
    obj: dict[str, Any], select: list[str] | str | None, default: Iterable[str] | None = None
) -> dict[str, Any]:
    """Project a Graph JSON object on `$select` (or the default property set, or everything).

    Selected properties the object lacks come back as null, as Graph does; `@odata.*`
    annotations are kept.
    """
    if isinstance(select, str):
        select = [p.strip() for p in select.split(",") if p.strip()]
    names = select if select else (list(default) if default is not None else None)
    if names is None:
        return {k: v for k, v in obj.items() if not k.startswith("_")}
    lowered = {k.lower(): k for k in obj}
    out: dict[str, Any] = {k: v for k, v in obj.items() if k.startswith("@odata.")}
    for name in names:
        key = lowered.get(name.lower())
        out[key or name] = obj.get(key) if key else None
    return out


def is_eventual(req: SimRequest) -> bool:
    """Tell whether the request asks for an advanced query (ConsistencyLevel: eventual)."""
    return req.headers.get("consistencylevel", "").lower() == "eventual"


def wants_count(req: SimRequest) -> bool:
    return req.query.get("$count", "").lower() == "true"


def require_advanced(req: SimRequest, what: str) -> None:
    """Refuse an advanced query made without `ConsistencyLevel: eventual` and `$count=true`."""
    if not (is_eventual(req) and wants_count(req)):
        raise unsupported_query(
            f"Unsupported Query. {what} requires the ConsistencyLevel header set to 'eventual' "
            "and $count=true."
        )


def context_url(req: SimRequest, entity_set: str, select: list[str] | None = None) -> str:
    suffix = f"({','.join(select)})" if select else ""
    return f"{req.base_url}/$metadata#{entity_set}{suffix}"


def _encode_skiptoken(offset: int) -> str:
    raw = json.dumps({"o": offset}).encode()
    return "RFNwdAIAAQAAA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_skiptoken(token: str) -> int:
    try:
        raw = token.removeprefix("RFNwdAIAAQAAA")
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise SimError(400, "Request_BadRequest", "Invalid $skiptoken value.") from None
    if offset < 0:
        raise SimError(400, "Request_BadRequest", "Invalid $skiptoken value.")
    return offset


def top_of(req: SimRequest, default_top: int = 100, max_top: int = 999) -> int:
    raw = req.query.get("$top")
    if raw is None:
        return default_top
    try:
        top = int(raw)
    except ValueError:
        raise SimError(400, "Request_BadRequest", f"Invalid $top value '{raw}'.") from None
    if top < 1 or top > max_top:
        raise SimError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{top}'. Must be between 1 and {max_top} inclusive.",
        )
    return top


def page(
    sim: Any,
    req: SimRequest,
    items: list[dict[str, Any]],
    default_top: int = 100,
    max_top: int = 999,
    *,
    entity_set: str | None = None,
) -> SimResponse:
    """Return one page of `items` with `@odata.context`, `@odata.count` and `@odata.nextLink`.

    The next link is absolute, on `req.base_url`, carries the original query and an opaque
    `$skiptoken`; `items` must be in a stable order (the caller filters, sorts and projects).
    """
    top = top_of(req, default_top, max_top)
    token = req.query.get("$skiptoken")
    offset = _decode_skiptoken(token) if token else 0
    chunk = items[offset : offset + top]
    if entity_set is None:
        entity_set = req.path.strip("/").split("/", 1)[0] or "value"
    body: dict[str, Any] = {"@odata.context": context_url(req, entity_set, selected(req))}
    if wants_count(req):
        body["@odata.count"] = len(items)
    if offset + top < len(items):
        from urllib.parse import urlencode

        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _encode_skiptoken(offset + top)
        body["@odata.nextLink"] = f"{req.base_url}{req.path}?{urlencode(query, safe='$,/()')}"
    body["value"] = chunk
    return SimResponse(status=200, body=body)


def order_by(req: SimRequest, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by `$orderby` ("prop [asc|desc]", one property); nulls last."""
    raw = req.query.get("$orderby")
    if not raw:
        return items
    prop, _, direction = raw.strip().partition(" ")
    reverse = direction.strip().lower() == "desc"
    present = [i for i in items if _lookup(i, prop) is not None]
    missing = [i for i in items if _lookup(i, prop) is None]
    present.sort(key=lambda i: _norm(_lookup(i, prop)), reverse=reverse)
    return present + missing


def search_matches(obj: dict[str, Any], expr: str) -> bool:
    """Evaluate `$search="prop:word" OR "prop:word"`: case-insensitive word-prefix match."""
    clauses = re.findall(r'"([^"]*)"', expr)
    if not clauses or any(":" not in c for c in clauses):
        raise SimError(
            400, "Request_BadRequest", 'Invalid $search query: expected "property:value" clauses.'
        )
    combine = all if re.search(r'"\s+AND\s+"', expr) else any
    return combine(
        any(
            word.startswith(term.lower())
            for word in re.split(r"[\s._@-]+", str(obj.get(prop) or "").lower())
        )
        for prop, _, term in (c.partition(":") for c in clauses)
    )


def require_eventual_count(req: SimRequest) -> None:
    """Refuse a `$count` segment without `ConsistencyLevel: eventual` (aad-advanced-queries)."""
    if not is_eventual(req):
        raise bad_request("$count is not currently supported.")


def text(value: str) -> SimResponse:
    """Return a `text/plain` answer, as `$count` segments give."""
    return SimResponse(status=200, raw=value.encode(), content_type="text/plain")
