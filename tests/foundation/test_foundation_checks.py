"""Cross-checks and field rules of the inventory, beyond the corpus: each check can fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crisiskit.errors import InputError
from crisiskit.inventory import check_inventory, load_inventory
from crisiskit.inventory.loader import secret_key_hint
from crisiskit.inventory.models import Phone

Write = Callable[[str], Path]
SAMPLE = Path(__file__).resolve().parents[2] / "inventory.yaml"


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        check_inventory(path)
    return [str(d).split(": ", 1)[1] for d in caught.value.diagnostics]


def test_the_sample_inventory_is_valid_and_big_enough() -> None:
    checked = check_inventory(SAMPLE)
    inv = checked.inventory
    assert len(inv.communes) >= 8
    assert len(inv.devices.laptops) >= 40 and len(inv.devices.phones) >= 40
    assert inv.tenant.upn_domain == "crise.ampmetropole.fr" and inv.tenant.usage_location == "FR"
    assert len(inv.commune("aubagne").roster) >= 12
    assert checked.result.notes == [
        "aubagne: roster[5] Jean Martin → jean.martin2@crise.ampmetropole.fr "
        "(homonym of roster[2])"
    ]
    assert SAMPLE.read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=./inventory.schema.json"
    )


def test_an_unknown_commune_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown commune 'nice' \(known: aubagne, "):
        load_inventory(SAMPLE).commune("nice")


def test_schema_errors_and_cross_checks_are_all_reported_together(
    write_inventory: Write, base_text: str
) -> None:
    text = base_text.replace("  - id: cassis", "  - id: aubagne").replace(
        "model: Dell Latitude 5440}", "model: Dell Latitude 5440, status: lost}"
    ).replace('imei: "354678118408645"', 'imei: "353918110542012"')
    assert problems(write_inventory(text)) == [
        "communes[1].id: duplicate commune id 'aubagne' (first at communes[0].id, line 14)",
        "devices.laptops[0].status: must be one of: 'available', 'maintenance' or 'retired'",
        "devices.phones[1].imei: duplicate IMEI '353918110542012' (first at "
        "devices.phones[0].imei, line 54)",
    ]


def test_an_explicit_account_resolves_a_cross_commune_collision(
    write_inventory: Write, base_text: str
) -> None:
    clash = base_text.replace(
        "{given_name: Jean, surname: Martin, role: dsi, phone: true}",
        "{given_name: Valérie, surname: Roux, role: dsi, phone: true}",
    )
    assert problems(write_inventory(clash)) == [
        "communes[1].roster[0]: user name valerie.roux@crise.ampmetropole.fr is also produced "
        "by communes[0].roster[1] (one tenant for all communes); set `account` on one of them, "
        "e.g. valerie.roux.cassis"
    ]
    fixed = clash.replace(
        "{given_name: Valérie, surname: Roux, role: maire, team_owner: true}",
        "{given_name: Valérie, surname: Roux, role: maire, team_owner: true, "
        "account: valerie.roux.cassis}",
    )
    load_inventory(write_inventory(fixed))


def test_a_too_long_user_name_is_refused(write_inventory: Write, base_text: str) -> None:
    long_name = "Maximilienne-" * 4 + "Joséphine"  # 61 characters: a valid givenName
    text = base_text.replace("given_name: Jean,", f"given_name: {long_name},")
    assert problems(write_inventory(text)) == [
        "communes[0].roster[1]: user name 'maximilienne-maximilienne-maximilienne-maximilienne-"
        "josephine.martin' is 68 characters; Microsoft Graph allows 64 (user.md mailNickname, "
        "UPN before the '@'); set `account` to a shorter one"
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("      notification_date: 2025-03-10\n",
             "      notification_date: 2025-03-10\n      termination_request_date: 2025-03-01\n"),
            "communes[0].convention.termination_request_date: is before the notification_date",
        ),
        (
            ("      notification_date: 2025-03-10\n",
             "      notification_date: 2025-03-10\n      breach_notice_date: 2024-12-01\n"),
            "communes[0].convention.breach_notice_date: is before the notification_date",
        ),
        (
            ("      notification_date: 2025-03-10\n",
             "      notification_date: 2025-03-10\n      breach_notice_date: 2025-06-01\n"
             "      breach_remedied_date: 2025-05-01\n"),
            "communes[0].convention.breach_remedied_date: is before the breach_notice_date",
        ),
        (
            ("      signature_date: 2025-02-20\n", ""),
            "communes[0].convention.notification_date: a convention is notified after it is "
            "signed: signature_date is missing",
        ),
    ],
)
def test_incoherent_convention_dates(
    write_inventory: Write, base_text: str, edit: tuple[str, str], expected: str
) -> None:
    assert problems(write_inventory(base_text.replace(*edit))) == [expected]


@pytest.mark.parametrize(
    ("key", "env"),
    [
        ("client_secret", "AZURE_CLIENT_SECRET"),
        ("clientSecret", "AZURE_CLIENT_SECRET"),
        ("password", "AZURE_CLIENT_SECRET"),
        ("certificate_password", "AZURE_CLIENT_CERTIFICATE_PASSWORD"),
        ("private_key", "tenant.certificate_path"),
        ("certificate", "tenant.certificate_path"),
        ("access_token", "CRISISKIT_GRAPH_TOKEN"),
    ],
)
def test_secret_keys_say_which_environment_variable_to_use(key: str, env: str) -> None:
    hint = secret_key_hint(key)
    assert hint is not None and env in hint


@pytest.mark.parametrize("key", ["certificate_path", "display_name", "tenant_id", "phone"])
def test_ordinary_keys_are_not_secrets(key: str) -> None:
    assert secret_key_hint(key) is None


def test_a_secret_anywhere_is_refused_and_never_echoed(
    write_inventory: Write, base_text: str
) -> None:
    text = base_text.replace(
        "    mayor: Valérie Roux\n", "    mayor: Valérie Roux\n    password: Tr0ub4dor&3\n"
    )
    with pytest.raises(InputError) as caught:
        check_inventory(write_inventory(text))
    assert [str(d).split(": ", 1)[1] for d in caught.value.diagnostics] == [
        "communes[1].password: secrets never live in this file: set the environment variable "
        "AZURE_CLIENT_SECRET instead"
    ]
    assert "Tr0ub4dor" not in str(caught.value)


def test_certificate_auth_with_a_path_is_fine(write_inventory: Write, base_text: str) -> None:
    text = base_text.replace(
        "  auth: client_secret\n",
        "  auth: certificate\n  certificate_path: /etc/crisiskit/app.pem\n"
        "  graph_url: https://graph.microsoft.us/v1.0/\n"
        "  authority_host: https://login.microsoftonline.us\n",
    ).replace("4f6c2a1e-8b3d-4e7a-9c15-2d8e6f0a7b39", "4F6C2A1E-8B3D-4E7A-9C15-2D8E6F0A7B39")
    tenant = load_inventory(write_inventory(text)).tenant
    assert tenant.auth == "certificate" and tenant.certificate_path == "/etc/crisiskit/app.pem"
    assert tenant.graph_url == "https://graph.microsoft.us/v1.0"
    assert tenant.tenant_id == "4f6c2a1e-8b3d-4e7a-9c15-2d8e6f0a7b39"


def test_a_certificate_path_without_certificate_auth_is_refused(
    write_inventory: Write, base_text: str
) -> None:
    text = base_text.replace(
        "  auth: client_secret\n", "  auth: client_secret\n  certificate_path: app.pem\n"
    )
    assert problems(write_inventory(text)) == [
        "tenant.certificate_path: only used with auth: certificate (auth is client_secret)"
    ]


def test_phone_numbers_and_imeis_are_normalised() -> None:
    phone = Phone(asset_tag="T1", imei="35391811 054201-2", number="07.57.10.04.01", model="X")
    assert phone.imei == "353918110542012"
    assert phone.number == "+33757100401"
    assert phone.graph_number == "+33 757100401"
    intl = Phone(asset_tag="T2", imei="353918110542012", number="+33 6 12 34 56 78", model="X")
    assert intl.number == "+33612345678" and intl.graph_number == "+33 612345678"


def test_playbooks_referenced_are_looked_up_beside_the_inventory(
    tmp_path: Path, base_text: str
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(base_text, encoding="utf-8")
    assert problems(path) == [
        f"communes[0].playbook: playbook 'standard' not found in {tmp_path / 'playbooks'} "
        "(available: none)",
        f"communes[1].playbook: playbook 'minimal' not found in {tmp_path / 'playbooks'} "
        "(available: none)",
    ]
