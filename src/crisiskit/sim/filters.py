"""OData `$filter` for the simulator: parse to a tree, evaluate on Graph JSON, list its clauses.

The grammar is what Graph's reference uses: `and`, `or`, `not`, comparisons (`eq ne gt ge lt le`),
`in (...)`, `startsWith`/`endsWith`/`contains`, lambdas (`coll/any(x: ...)`, `all`), `coll/$count`,
and literals: quoted strings (`''` escapes a quote), numbers, `true`/`false`/`null`, GUIDs and
unquoted date/time values (`2021-11-01`, `2021-11-01T08:00:00Z`), which Graph accepts for
DateTimeOffset properties. `Filter.clauses` lists each (property path, operator, literal
kind) so that a family can tell which queries the directory serves (`queryrules`). Nesting
deeper than `MAX_DEPTH` is refused with a 400 instead of exhausting the parser's stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crisiskit.sim.errors import invalid_filter

MAX_DEPTH = 32
MAX_LENGTH = 8192  # characters: Graph refuses URLs far shorter than what would stress this

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})?)?)
      (?![\w-])
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
      (?![\w-])
    | (?P<num>-?\d+(?:\.\d+)?)(?![\w-])
    | (?P<name>[A-Za-z_@$][\w.@$-]*(?:/[A-Za-z_@$][\w.@$-]*)*)
    | (?P<punct>[(),:/])
    )""",
    re.VERBOSE,
)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCTIONS = {"startswith", "endswith", "contains"}


@dataclass(frozen=True)
class Clause:
    """One comparison: `path` as written (lambda bodies as `coll/prop`), operator, literal."""

    path: str
    op: str  # eq ne gt ge lt le in startswith endswith contains any all count
    literal: str  # string number boolean null guid datetime none
    negated: bool = False


@dataclass
class Filter:
    """A parsed `$filter`: call it on a Graph JSON object to know whether it matches."""

    expr: str
    node: Any
    clauses: list[Clause] = field(default_factory=list)
    operators: set[str] = field(default_factory=set)  # every operator, `and`/`or`/`not` too

    @property
    def properties(self) -> set[str]:
        return {c.path for c in self.clauses}

    def __call__(self, obj: dict[str, Any]) -> bool:
        return bool(_eval(self.node, obj, {}))


# ---------------------------------------------------------------- tree


@dataclass(frozen=True)
class Lit:
    value: Any
    kind: str


@dataclass(frozen=True)
class Path:
    name: str  # as written; a lambda variable's paths start with the variable


@dataclass(frozen=True)
class Op:
    op: str  # and or not eq ... in startswith ... any all
    args: tuple[Any, ...]
    var: str = ""  # lambdas


def _parse_datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Parser:
    def __init__(self, expr: str) -> None:
        if len(expr) > MAX_LENGTH:
            raise invalid_filter(f"the expression is longer than {MAX_LENGTH} characters")
        self.expr = expr
        self.tokens: list[tuple[str, Any]] = []
        text = expr.strip()
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise invalid_filter(f"unexpected text at {text[pos:pos + 20]!r}")
            pos = m.end()
            kind = m.lastgroup or ""
            raw = m.group(kind)
            if kind == "str":
                self.tokens.append(("lit", Lit(raw[1:-1].replace("''", "'"), "string")))
            elif kind == "date":
                when = _parse_datetime(raw)
                if when is None:
                    raise invalid_filter(f"invalid date/time literal {raw!r}")
                self.tokens.append(("lit", Lit(when, "datetime")))
            elif kind == "guid":
                self.tokens.append(("lit", Lit(raw, "guid")))
            elif kind == "num":
                self.tokens.append(("lit", Lit(float(raw) if "." in raw else int(raw), "number")))
            else:
                self.tokens.append((kind, raw))
        self.i = 0
        self.depth = 0
        self.vars: list[str] = []
        self.clauses: list[Clause] = []
        self.operators: set[str] = set()
        self.negation = 0
        self.lambda_stack: list[tuple[str, str]] = []  # (variable, collection path)

    # -- tokens --------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, Any] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise invalid_filter("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok != ("punct", value):
            raise invalid_filter(f"expected {value!r}, found {_show(tok)!r}")

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "name" and str(tok[1]).lower() == word:
            self.i += 1
            return True
        return False

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid_filter(f"the expression is nested deeper than {MAX_DEPTH} levels")

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Filter:
        node = self.or_expr()
        if self.peek() is not None:
            raise invalid_filter(f"unexpected {_show(self.peek())!r}")
        return Filter(self.expr, node, self.clauses, self.operators)

    def or_expr(self) -> Any:
        terms = [self.and_expr()]
        while self.keyword("or"):
            self.operators.add("or")
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else Op("or", tuple(terms))

    def and_expr(self) -> Any:
        terms = [self.unary()]
        while self.keyword("and"):
            self.operators.add("and")
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else Op("and", tuple(terms))

    def unary(self) -> Any:
        if self.keyword("not"):
            self.operators.add("not")
            self.deeper()
            self.negation += 1
            inner = self.unary()
            self.negation -= 1
            self.depth -= 1
            return Op("not", (inner,))
        return self.comparison()

    def comparison(self) -> Any:
        left = self.operand()
        tok = self.peek()
        if not (tok and tok[0] == "name"):
            return left
        op = str(tok[1]).lower()
        if op in COMPARISONS:
            self.i += 1
            right = self.operand()
            self._clause(left, op, right)
            return Op(op, (left, right))
        if op == "in":
            self.i += 1
            values = self.list_literal()
            self._clause(left, "in", values[0] if values else Lit(None, "none"))
            return Op("in", (left, tuple(values)))
        return left

    def _clause(self, left: Any, op: str, right: Any) -> None:
        self.operators.add(op)
        if isinstance(left, Op) and left.op == "count":
            left = Path(left.args[0].name + "/$count")
        if isinstance(left, Path):
            literal = right.kind if isinstance(right, Lit) else "none"
            self.clauses.append(Clause(self._effective(left), op, literal, self.negation > 0))

    def _effective(self, path: Path) -> str:
        """Return a clause's property path; inside a lambda `a/skuId` becomes `coll/skuId`."""
        head, _, rest = path.name.partition("/")
        for var, collection in reversed(self.lambda_stack):
            if head == var:
                return f"{collection}/{rest}" if rest else collection
        return path.name

    def list_literal(self) -> list[Lit]:
        self.expect("(")
        values: list[Lit] = []
        while True:
            kind, value = self.take()
            word = str(value).lower() if kind == "name" else ""
            if kind != "lit" and word not in ("true", "false", "null"):
                raise invalid_filter("'in' takes a list of literals")
            values.append(value if kind == "lit" else _word_literal(word))
            if self.peek() == ("punct", ","):
                self.i += 1
                continue
            self.expect(")")
            return values

    def operand(self) -> Any:
        kind, value = self.take()
        if kind == "punct" and value == "(":
            self.deeper()
            inner = self.or_expr()
            self.depth -= 1
            self.expect(")")
            return inner
        if kind == "lit":
            return value
        if kind != "name":
            raise invalid_filter(f"unexpected {value!r}")
        word = str(value)
        lowered = word.lower()
        if lowered in ("true", "false", "null"):
            return _word_literal(lowered)
        if lowered in FUNCTIONS and self.peek() == ("punct", "("):
            return self.function(lowered)
        tail = word.rsplit("/", 1)[-1].lower()
        if self.peek() == ("punct", "(") and "/" in word and tail in ("any", "all"):
            return self.lambda_(word.rsplit("/", 1)[0], tail)
        if tail == "$count" and "/" in word:
            collection = Path(word.rsplit("/", 1)[0])
            self.operators.add("count")
            return Op("count", (collection,))
        return Path(word)

    def function(self, name: str) -> Any:
        self.operators.add(name)
        self.deeper()
        self.expect("(")
        subject = self.operand()
        self.expect(",")
        arg = self.operand()
        self.expect(")")
        self.depth -= 1
        self._clause(subject, name, arg)
        return Op(name, (subject, arg))

    def lambda_(self, collection: str, kind: str) -> Any:
        self.operators.add(kind)
        self.deeper()
        self.expect("(")
        if self.peek() == ("punct", ")"):
            self.i += 1
            self.depth -= 1
            self.clauses.append(Clause(collection, kind, "none", self.negation > 0))
            return Op(kind, (Path(collection), None))
        var_kind, var = self.take()
        if var_kind != "name":
            raise invalid_filter("a lambda needs a variable")
        self.expect(":")
        self.lambda_stack.append((str(var), self._effective(Path(collection))))
        body = self.or_expr()
        self.lambda_stack.pop()
        self.expect(")")
        self.depth -= 1
        return Op(kind, (Path(collection), body), var=str(var))


def _word_literal(word: str) -> Lit:
    if word == "null":
        return Lit(None, "null")
    return Lit(word == "true", "boolean")


def _show(tok: tuple[str, Any] | None) -> str:
    if tok is None:
        return ""
    value = tok[1]
    return str(value.value) if isinstance(value, Lit) else str(value)


def parse_filter(expr: str) -> Filter:
    """Parse an OData `$filter` expression; raise a 400 SimError when it is malformed."""
    return _Parser(expr).parse()


# ---------------------------------------------------------------- evaluation


def lookup(obj: Any, path: str) -> Any:
    """Return the value at a `/`-separated property path (case-insensitive), or None."""
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


def norm(value: Any) -> Any:
    """Fold strings to lower case, as directory comparisons do."""
    return value.lower() if isinstance(value, str) else value


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(b, datetime) and isinstance(a, str):
        return _parse_datetime(a), b
    if isinstance(a, datetime) and isinstance(b, str):
        return a, _parse_datetime(b)
    return norm(a), norm(b)


def _compare(op: str, left: Any, right: Any) -> bool:
    a, b = _comparable(left, right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        return bool({"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op])
    except TypeError:
        return False


def _eval(node: Any, obj: dict[str, Any], env: dict[str, Any]) -> Any:
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Path):
        head, _, rest = node.name.partition("/")
        if head in env:
            return lookup(env[head], rest) if rest else env[head]
        return lookup(obj, node.name)
    if not isinstance(node, Op):
        raise TypeError(f"unexpected filter node {node!r}")
    op, args = node.op, node.args
    if op == "and":
        return all(bool(_eval(a, obj, env)) for a in args)
    if op == "or":
        return any(bool(_eval(a, obj, env)) for a in args)
    if op == "not":
        return not _eval(args[0], obj, env)
    if op in COMPARISONS:
        return _compare(op, _eval(args[0], obj, env), _eval(args[1], obj, env))
    if op == "in":
        left = norm(_eval(args[0], obj, env))
        return any(left == norm(v.value) for v in args[1])
    if op in FUNCTIONS:
        a, b = _eval(args[0], obj, env), _eval(args[1], obj, env)
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        a, b = a.lower(), b.lower()
        if op == "startswith":
            return a.startswith(b)
        return a.endswith(b) if op == "endswith" else b in a
    if op == "count":
        items = _eval(args[0], obj, env)
        return len(items) if isinstance(items, list) else 0
    items = _eval(args[0], obj, env) or []
    if args[1] is None:
        return bool(items)
    results = (bool(_eval(args[1], obj, {**env, node.var: item})) for item in items)
    return any(results) if op == "any" else all(results)
