"""Which directory queries Graph serves plainly, which only as advanced queries, which never.

Source: concepts/aad-advanced-queries.md and includes/filter-directory-objects.md (the
per-property tables for users and groups: `eq`, `startsWith`, `ge`, `le` and `null` support,
each "default", "advanced" or not supported), with the rules the page states around them:

- advanced query parameters are the `ConsistencyLevel: eventual` header and `$count=true`
  (`$search` needs only the header); queries supported by default also work as advanced
  queries, read from the lagging index;
- `in` is supported by default wherever `eq` is; `ne` and `not` only in advanced queries, on
  properties that support `eq`; `endsWith` only in advanced queries and only on mail,
  otherMails, userPrincipalName and proxyAddresses; `/$count` in a filter only in advanced
  queries; `contains`, `gt` and `lt` are not supported on directory objects;
- `$orderby` per the page's table; `$filter` and `$orderby` together only in advanced queries;
- `$count=true` without the header is silently ignored (no `@odata.count`), not a 400;
  `$count` as a URL segment without the header is a 400.

A property missing from the tables does not support `$filter` ("Properties that are not listed
here do not support $filter at all"). Directory extension properties (`extension_<app>_<name>`)
support `eq` (and `in`) by default (extensibility-overview: "filterable"; README's tag choice).
"""

from __future__ import annotations

from dataclasses import dataclass

from crisiskit.sim import odata
from crisiskit.sim.errors import SimError, invalid_filter, unsupported_query
from crisiskit.sim.filters import Clause, Filter
from crisiskit.sim.router import SimRequest

D, A = "default", "advanced"  # absent = not supported
Support = dict[str, str]  # operator (eq, startswith, ge, le, null) -> D | A

# includes/filter-directory-objects.md, "User properties" (collections of strings: the older
# version of the same include, which lists businessPhones, imAddresses, otherMails, proxyAddresses
# and id).
USER: dict[str, Support] = {
    "accountenabled": {"eq": D},
    "agegroup": {"eq": D},
    "assignedlicenses/skuid": {"eq": D},
    "assignedplans/capabilitystatus": {"eq": A},
    "assignedplans/service": {"eq": A},
    "assignedplans/serviceplanid": {"eq": A},
    "businessphones": {"eq": D},
    "city": {"eq": D, "startswith": D, "null": A},
    "companyname": {"eq": A, "startswith": A, "null": A},
    "consentprovidedforminor": {"eq": D},
    "country": {"eq": D, "startswith": D, "null": A},
    "createddatetime": {"eq": A, "ge": A, "le": A},
    "creationtype": {"eq": D},
    "department": {"eq": D, "startswith": D, "null": A},
    "displayname": {"eq": D, "startswith": D, "null": A},
    "employeehiredate": {"eq": A, "ge": A, "le": A},
    "employeeid": {"eq": D, "null": A},
    "employeeorgdata/costcenter": {"eq": A},
    "employeeorgdata/division": {"eq": A},
    "employeetype": {"eq": A},
    "externaluserstate": {"eq": D},
    "externaluserstatechangedatetime": {"eq": D, "ge": D, "le": D},
    "faxnumber": {"eq": A, "startswith": A, "null": A},
    "givenname": {"eq": D, "startswith": D, "null": A},
    "id": {"eq": D},
    "identities/issuer": {"eq": D, "null": D},
    "imaddresses": {"eq": D, "startswith": D},
    "isresourceaccount": {"eq": D},
    "jobtitle": {"eq": D, "startswith": D, "null": A},
    "mail": {"eq": D, "startswith": D, "null": A},
    "mailnickname": {"eq": D, "startswith": D, "null": A},
    "mobilephone": {"eq": A, "startswith": A, "null": A},
    "officelocation": {"eq": A, "startswith": A, "null": A},
    "onpremisesimmutableid": {"eq": D},
    "onpremiseslastsyncdatetime": {"eq": D, "ge": D, "le": D},
    "onpremisessamaccountname": {"eq": A, "startswith": A},
    "onpremisessecurityidentifier": {"null": A},
    "onpremisessyncenabled": {"eq": D, "null": A},
    "othermails": {"eq": D, "startswith": D},
    "passwordpolicies": {"null": A},
    "passwordprofile/forcechangepasswordnextsignin": {"eq": A, "null": A},
    "passwordprofile/forcechangepasswordnextsigninwithmfa": {"eq": A, "null": A},
    "postalcode": {"eq": A, "startswith": A, "null": A},
    "preferredlanguage": {"eq": A, "startswith": A, "null": A},
    "provisionedplans/provisioningstatus": {"eq": A},
    "provisionedplans/service": {"eq": A},
    "proxyaddresses": {"eq": D, "startswith": D, "null": A},
    "showinaddresslist": {"eq": A},
    "state": {"eq": D, "startswith": D, "null": A},
    "streetaddress": {"eq": A, "startswith": A, "null": A},
    "surname": {"eq": D, "startswith": D, "null": A},
    "usagelocation": {"eq": D, "startswith": D, "null": A},
    "userprincipalname": {"eq": D, "startswith": D},
    "usertype": {"eq": D, "null": A},
    **{f"onpremisesextensionattributes/extensionattribute{i}": {"eq": A, "null": A}
       for i in range(1, 16)},
}
# includes/filter-directory-objects.md, "Group properties", plus `id`, `groupTypes` and
# `resourceProvisioningOptions` (group-list's own examples filter on them plainly) and
# `proxyAddresses` (the older version of the include).
GROUP: dict[str, Support] = {
    "assignedlicenses/skuid": {"eq": D},
    "classification": {"eq": D, "startswith": D},
    "createdonbehalfof/deleteddatetime": {"eq": D, "ge": D, "le": D},
    "description": {"eq": A, "startswith": A},
    "displayname": {"eq": D, "startswith": D, "null": A},
    "expirationdatetime": {"eq": A, "ge": A, "le": A},
    "grouptypes": {"eq": D},
    "hasmemberswithlicenseerrors": {"eq": D, "null": D},
    "id": {"eq": D},
    "mail": {"eq": D, "startswith": D, "null": A},
    "mailenabled": {"eq": D},
    "mailnickname": {"eq": D, "startswith": D, "null": A},
    "membershiprule": {"eq": D, "startswith": D},
    "onpremiseslastsyncdatetime": {"eq": D, "ge": D, "le": D},
    "onpremisesprovisioningerrors/category": {"eq": D},
    "onpremisesprovisioningerrors/propertycausingerror": {"eq": D},
    "onpremisessamaccountname": {"eq": A, "startswith": A},
    "onpremisessecurityidentifier": {"null": A},
    "onpremisessyncenabled": {"eq": D, "null": A},
    "preferredlanguage": {"eq": A, "startswith": A, "null": A},
    "proxyaddresses": {"eq": D, "startswith": D},
    "reneweddatetime": {"eq": D, "ge": D, "le": D},
    "resourceprovisioningoptions": {"eq": D},
    "securityenabled": {"eq": D},
}
ENDSWITH = {"mail", "othermails", "userprincipalname", "proxyaddresses"}
DATETIME = {
    "createddatetime",
    "deleteddatetime",
    "employeehiredate",
    "expirationdatetime",
    "externaluserstatechangedatetime",
    "onpremiseslastsyncdatetime",
    "reneweddatetime",
    "createdonbehalfof/deleteddatetime",
}
# concepts/aad-advanced-queries.md, "Support for sorting by properties of directory objects".
ORDERBY: dict[str, Support] = {
    "User": {"displayname": D, "userprincipalname": D, "createddatetime": A, "deleteddatetime": A},
    "Group": {"displayname": D, "deleteddatetime": A},
}
TABLES = {"User": USER, "Group": GROUP}
MISSING_ADVANCED = (
    "Operator '{op}' is not supported because the required parameters might be missing. "
    "Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
    "Refer to https://aka.ms/graph-docs/advanced-queries for more information"
)
SEARCH_NEEDS_HEADER = (
    "Request with $search query parameter only works through MSGraph with a special request "
    "header: 'ConsistencyLevel: eventual'"
)
OPERATOR_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "ge": "GreaterThanOrEqual",
    "le": "LessThanOrEqual",
    "gt": "GreaterThan",
    "lt": "LessThan",
}


@dataclass(frozen=True)
class Query:
    """How a directory list request is served."""

    filter: Filter | None
    advanced: bool  # served from the lagging index (ConsistencyLevel + $count or $search)
    count: bool  # include @odata.count


def unsupported_clause(prop: str, resource: str) -> SimError:
    return unsupported_query(
        f"Unsupported or invalid query filter clause specified for property '{prop}' of "
        f"resource '{resource}'."
    )


def _level(clause: Clause, resource: str) -> str | None:
    """Return D, A or None (not supported) for one clause on a user or group."""
    prop = clause.path.lower()
    if prop.startswith("extension_"):
        support: Support = {"eq": D}
    elif prop.endswith("/$count"):
        collection = prop[: -len("/$count")]
        known = any(k == collection or k.startswith(collection + "/") for k in TABLES[resource])
        return A if known else None
    else:
        found = TABLES[resource].get(prop)
        if found is None:
            return None
        support = found
    op = clause.op
    if op in ("eq", "ne") and clause.literal == "null":
        level = support.get("null")
        return None if level is None else (A if op == "ne" else level)
    if op in ("eq", "in", "startswith", "ge", "le"):
        level = support.get("eq" if op == "in" else op)
        if level is not None and clause.negated:
            return A if "eq" in support else None
        return level
    if op == "ne":
        return A if "eq" in support else None
    if op == "endswith":
        return A if prop in ENDSWITH else None
    if op in ("any", "all"):
        return A if op == "any" else None  # `coll/any()` (not empty): advanced, like /$count
    return None  # contains, gt, lt


def _check_types(clause: Clause) -> None:
    prop = clause.path.lower()
    is_date = prop in DATETIME
    if clause.op not in OPERATOR_NAMES or clause.literal in ("null", "none"):
        return
    if is_date != (clause.literal == "datetime"):
        left = "Edm.DateTimeOffset" if is_date else "Edm.String"
        kind = "DateTimeOffset" if clause.literal == "datetime" else clause.literal.title()
        right = f"Edm.{kind}"
        raise invalid_filter(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{left}' and '{right}' for operator kind '{OPERATOR_NAMES[clause.op]}'."
        )


def directory_query(req: SimRequest, resource: str) -> Query:
    """Check a user or group list against the documented rules; raise the 400 Graph gives.

    Returns how to serve it: whether from the lagging index, whether with `@odata.count`.
    """
    eventual = odata.is_eventual(req)
    count = odata.wants_count(req) and eventual  # without the header, $count is ignored
    search = "$search" in req.query
    if search and not eventual:
        raise unsupported_query(SEARCH_NEEDS_HEADER)
    advanced = eventual and (count or search)
    raw = req.query.get("$filter")
    flt = odata.parse_filter(raw) if raw else None
    needs: str | None = None  # the first operator that requires advanced parameters
    for clause in flt.clauses if flt else []:
        level = _level(clause, resource)
        if level is None:
            raise unsupported_clause(clause.path, resource)
        _check_types(clause)
        if level == A and needs is None:
            needs = "not" if clause.negated else clause.op
    orderby = req.query.get("$orderby", "").strip()
    if orderby:
        prop = orderby.split(" ")[0].lower()
        level = ORDERBY[resource].get(prop)
        if level is None:
            raise unsupported_query(f"Order by '{orderby.split(' ')[0]}' not supported.")
        if (level == A or flt is not None) and needs is None:
            needs = "orderby"
    if needs is not None and not advanced:
        raise unsupported_query(MISSING_ADVANCED.format(op=needs))
    return Query(flt, advanced, count)


def require_count_segment(req: SimRequest) -> None:
    """Refuse `/$count` segments without `ConsistencyLevel: eventual` (documented 400)."""
    odata.require_eventual_count(req)
