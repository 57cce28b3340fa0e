"""The inventory's data model: tenant, Métropole contact, communes with their rosters, devices.

Every model rejects unknown keys. Values are normalised on the way in (phone numbers to E.164,
GUIDs and e-mail domains to lower case) so that the rest of crisiskit compares like with like.
The cross-checks that span several objects (uniqueness, UPNs, playbooks) live in `checks.py`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated

# Pydantic looks for plugins by scanning the entry points of every installed distribution the
# first time a model is built: about 30 ms, a fifth of a command's start-up, for plugins
# crisiskit does not use. Set the variable to "" to let plugins load again.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints  # noqa: E402

from crisiskit.errors import unknown

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LOCAL_HOSTS = ("http://127.0.0.1", "http://localhost", "http://[::1]")


class AuthMode(StrEnum):
    """How crisiskit authenticates to Microsoft Entra ID (secrets come from the environment)."""

    client_secret = "client_secret"
    certificate = "certificate"
    device_code = "device_code"
    managed_identity = "managed_identity"
    environment = "environment"


class DeviceStatus(StrEnum):
    """Whether a device in the Métropole's stock can be lent."""

    available = "available"
    maintenance = "maintenance"
    retired = "retired"


def _guid(value: str) -> str:
    if not _GUID.match(value):
        raise ValueError("must be a GUID such as 01234567-89ab-cdef-0123-456789abcdef")
    return value.lower()


def _domain(value: str) -> str:
    value = value.lower()
    if not _DOMAIN.match(value):
        raise ValueError("must be a DNS domain such as crise.ampmetropole.fr")
    return value


def _email(value: str) -> str:
    local, _, domain = value.partition("@")
    value = f"{local}@{domain.lower()}"
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address such as prenom.nom@example.fr")
    return value


def _service_url(value: str) -> str:
    value = value.rstrip("/")
    if not (value.startswith("https://") or value.startswith(_LOCAL_HOSTS)):
        raise ValueError("must be an https:// URL (plain http only for localhost)")
    if len(value.split("/", 3)[2]) == 0:
        raise ValueError("must name a host")
    return value


def _phone_number(value: str, *, mobile: bool) -> str:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    if mobile and phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValueError(f"{value!r} is not a mobile number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _any_phone(value: str) -> str:
    return _phone_number(value, mobile=False)


def _mobile_phone(value: str) -> str:
    return _phone_number(value, mobile=True)


def luhn_ok(digits: str) -> bool:
    """Tell whether a string of digits ends with a valid Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _imei(value: str) -> str:
    value = value.replace(" ", "").replace("-", "")
    if len(value) != 15 or not value.isdigit():
        raise ValueError("an IMEI has 15 digits")
    if not luhn_ok(value):
        raise ValueError("IMEI check digit (Luhn) is wrong")
    return value


def _nfc(value: str) -> str:
    """Return the text in Unicode NFC, so that é typed either way is the same name."""
    return unicodedata.normalize("NFC", value)


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_nfc),
]
Guid = Annotated[str, AfterValidator(_guid)]
Domain = Annotated[str, AfterValidator(_domain)]
Email = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_email)]
ServiceUrl = Annotated[str, AfterValidator(_service_url)]
AnyPhone = Annotated[str, AfterValidator(_any_phone)]
MobilePhone = Annotated[str, AfterValidator(_mobile_phone)]
Imei = Annotated[str, AfterValidator(_imei)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]
Insee = Annotated[str, StringConstraints(pattern=r"^(\d{2}|2[AB])\d{3}$")]
AssetTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
AccountName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*$", max_length=64)
]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Tenant(_Model):
    """The crisis Microsoft 365 tenant and how to reach it; never any secret."""

    display_name: Text
    tenant_id: Guid
    client_id: Guid
    upn_domain: Domain = Field(description="Verified domain of crisis accounts' UPNs.")
    usage_location: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "FR"
    sku_part_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_]{2,64}$")] = Field(
        description="Licence SKU part number, e.g. O365_BUSINESS_PREMIUM or ENTERPRISEPACK."
    )
    graph_url: ServiceUrl = DEFAULT_GRAPH_URL
    authority_host: ServiceUrl = DEFAULT_AUTHORITY_HOST
    auth: AuthMode = AuthMode.client_secret
    certificate_path: str | None = Field(
        default=None, description="PEM/PFX file for auth: certificate (its password: env)."
    )


class Contact(_Model):
    """A person to reach: the Métropole's interlocutor or a commune's correspondent (Art. 5)."""

    name: Text
    email: Email
    phone: AnyPhone


class Metropole(Contact):
    """The Métropole: its Article 5 interlocutor, and the facts its documents print."""

    service: Text | None = Field(
        default=None, description="Service in charge, printed under the Métropole's name."
    )
    address: Text | None = Field(default=None, description="Postal address of that service.")
    signatory: Text | None = Field(
        default=None, description="Who signs the convention and handover sheets for it."
    )
    signatory_title: Text | None = Field(
        default=None, description="Their capacity, e.g. Vice-président délégué au numérique."
    )
    dpo_email: Email | None = Field(
        default=None, description="Its data protection officer (GDPR record of processing)."
    )


class Convention(_Model):
    """The commune's signed convention: the dates that drive its lifecycle (Art. 7 and 9)."""

    deliberation_number: Text
    deliberation_date: date
    signature_date: date | None = None
    notification_date: date | None = None
    termination_request_date: date | None = Field(
        default=None, description="Receipt of a termination request (Art. 9): effect +3 months."
    )
    breach_notice_date: date | None = Field(
        default=None, description="Formal notice of a breach: terminates +3 months if unremedied."
    )
    breach_remedied_date: date | None = None


class Person(_Model):
    """One roster entry: someone who gets a crisis account."""

    given_name: Text
    surname: Text
    role: Role = Field(
        description="maire, dgs, dsi, communication, police_municipale, agent, or another role."
    )
    team_owner: bool = False
    laptop: bool = False
    phone: bool = False
    account: AccountName | None = Field(
        default=None,
        description="Explicit UPN local part, to tell apart namesakes in different communes.",
    )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surname}"


class Commune(_Model):
    """A member commune covered by a convention, with the roster of its crisis accounts."""

    id: Slug
    name: Text
    insee: Insee
    address: Text
    mayor: Text
    convention: Convention
    correspondent: Contact
    playbook: Slug = "standard"
    roster: list[Person] = Field(default_factory=list)


class Laptop(_Model):
    """A laptop of the Métropole's lending stock."""

    asset_tag: AssetTag
    serial: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$")]
    model: Text
    status: DeviceStatus = DeviceStatus.available


class Phone(_Model):
    """A mobile phone of the Métropole's lending stock, with its SIM's number."""

    asset_tag: AssetTag
    imei: Imei
    number: MobilePhone = Field(description="Mobile number; stored as E.164, e.g. +33612345678.")
    model: Text
    status: DeviceStatus = DeviceStatus.available

    @property
    def graph_number(self) -> str:
        """Return the number as Graph's phoneMethods want it: "+33 612345678"."""
        import phonenumbers

        parsed = phonenumbers.parse(self.number)
        return f"+{parsed.country_code} {phonenumbers.national_significant_number(parsed)}"


class Devices(_Model):
    """The lending stock."""

    laptops: list[Laptop] = Field(default_factory=list)
    phones: list[Phone] = Field(default_factory=list)


class Inventory(_Model):
    """The whole inventory: the human-edited source of truth for what crisiskit provisions."""

    tenant: Tenant
    metropole: Metropole
    communes: list[Commune] = Field(default_factory=list)
    devices: Devices = Field(default_factory=Devices)

    def commune(self, commune_id: str) -> Commune:
        """Return the commune with this id, in any case ("Aubagne" is aubagne).

        An unknown id raises InputError naming the known ids, with "did you mean".
        """
        wanted = commune_id.strip().lower()
        for commune in self.communes:
            if commune.id == wanted:
                return commune
        raise unknown("commune", commune_id, (c.id for c in self.communes))
