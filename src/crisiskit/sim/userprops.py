"""The writable properties of a user: their JSON types and the lengths Graph accepts.

From the user resource page (api-reference/v1.0/resources/user.md): every writable property
with its type, and the documented maximum lengths (displayName 256; givenName, surname,
department, companyName, mailNickname, mobilePhone 64; jobTitle, officeLocation, city, state,
country 128; postalCode 40; streetAddress 1024; employeeId 16; one business phone). A value of
the wrong type or too long is Graph's 400 "Invalid value specified for property ... of
resource 'User'", naming the property. This module imports nothing from the simulator but its
errors.
"""

from __future__ import annotations

from typing import Any

from crisiskit.sim.errors import SimError, bad_request

STRINGS = (
    "aboutMe ageGroup birthday city companyName consentProvidedForMinor country department "
    "displayName employeeHireDate employeeId employeeLeaveDateTime employeeType faxNumber "
    "givenName hireDate jobTitle mail mailNickname mobilePhone mySite officeLocation "
    "onPremisesImmutableId passwordPolicies postalCode preferredDataLocation preferredLanguage "
    "preferredName state streetAddress surname usageLocation userPrincipalName userType"
).split()
BOOLEANS = ["accountEnabled", "showInAddressList"]
STRING_LISTS = (
    "businessPhones interests otherMails pastProjects responsibilities schools skills"
).split()
OBJECTS = ["employeeOrgData", "onPremisesExtensionAttributes", "passwordProfile"]
OBJECT_LISTS = ["identities"]
WRITABLE = set(STRINGS + BOOLEANS + STRING_LISTS + OBJECTS + OBJECT_LISTS)
MAX_LENGTH = {
    "displayName": 256,
    "givenName": 64,
    "surname": 64,
    "department": 64,
    "companyName": 64,
    "mailNickname": 64,
    "mobilePhone": 64,
    "jobTitle": 128,
    "officeLocation": 128,
    "city": 128,
    "state": 128,
    "country": 128,
    "postalCode": 40,
    "streetAddress": 1024,
    "employeeId": 16,
}
EXT_ATTRS = [f"extensionAttribute{i}" for i in range(1, 16)]
EXT_ATTR_MAX = 1024


def invalid(prop: str) -> SimError:
    return bad_request(
        f"Invalid value specified for property '{prop}' of resource 'User'.", target=prop
    )


def _string(prop: str, value: Any) -> None:
    if not isinstance(value, str):
        raise invalid(prop)
    limit = MAX_LENGTH.get(prop)
    if limit is not None and len(value) > limit:
        raise invalid(prop)


def check_value(prop: str, value: Any) -> None:
    """Refuse a value of the wrong JSON type, or longer than Graph allows, for `prop`."""
    if value is None:
        return
    if prop in STRINGS:
        _string(prop, value)
    elif prop in BOOLEANS:
        if not isinstance(value, bool):
            raise invalid(prop)
    elif prop in STRING_LISTS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(prop)
        if prop == "businessPhones" and len(value) > 1:
            raise invalid(prop)  # "Only one number can be set for this property."
    elif prop in OBJECT_LISTS:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(prop)
    elif prop == "onPremisesExtensionAttributes":
        if not isinstance(value, dict) or any(k not in EXT_ATTRS for k in value):
            raise invalid(prop)
        for v in value.values():
            if v is not None and (not isinstance(v, str) or len(v) > EXT_ATTR_MAX):
                raise invalid(prop)
    elif prop in OBJECTS:
        if not isinstance(value, dict):
            raise invalid(prop)


def check_extension(prop: str, value: Any) -> None:
    """Directory extensions hold a String, Integer, Boolean (or DateTime as a string)."""
    if value is not None and not isinstance(value, str | int | bool):
        raise bad_request(
            f"Invalid value specified for property '{prop}' of resource 'User'.", target=prop
        )
