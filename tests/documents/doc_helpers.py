"""Shared builders for the document tests: sheets, identity, PDF text and HTML checks."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from crisiskit.documents.handover import (
    HandoverAccount,
    HandoverCommune,
    HandoverContact,
    HandoverConvention,
    HandoverDevice,
    HandoverSheet,
)
from crisiskit.documents.render import Identity

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
FIRST = datetime(2026, 11, 26, 20, 18, tzinfo=UTC)  # 21 h 18 in Paris
IDENTITY = Identity(service="Direction du numérique", address="58 boulevard Charles Livon, "
                    "13007 Marseille")
TEAM_URL = ("https://teams.microsoft.com/l/team/19%3Aa1b2c3d4e5f60718293a4b5c6d7e8f90%40thread"
            ".tacv2/conversations?groupId=38c1962e-9148-424f-aac1-c14f30e9c5cc&tenantId="
            "4f6c2a1e-8b3d-4e7a-9c15-2d8e6f0a7b39")
SHAREPOINT_URL = "https://ampmetropole.sharepoint.com/sites/crisiskit-aubagne/Shared%20Documents"


def accounts() -> list[HandoverAccount]:
    return [
        HandoverAccount(given_name="Gérard", surname="Lucciani", role="maire",
                        upn="gerard.lucciani@crise.ampmetropole.fr", team_owner=True),
        HandoverAccount(given_name="Marie-Hélène", surname="Dupont", role="dgs",
                        upn="marie-helene.dupont@crise.ampmetropole.fr", team_owner=True),
        HandoverAccount(given_name="Aïcha", surname="N'Diaye", role="communication",
                        upn="aicha.ndiaye@crise.ampmetropole.fr"),
        HandoverAccount(given_name="Anaïs", surname="de La Fontaine", role="police_municipale",
                        upn="anais.de-la-fontaine@crise.ampmetropole.fr"),
    ]


def devices() -> list[HandoverDevice]:
    return [
        HandoverDevice(kind="laptop", asset_tag="AMP-PC-0001", model="Dell Latitude 5440",
                       serial="DL4793725B", holder="Gérard Lucciani",
                       holder_upn="gerard.lucciani@crise.ampmetropole.fr"),
        HandoverDevice(kind="laptop", asset_tag="AMP-PC-0002", model="HP EliteBook 840 G10",
                       serial="5CG4143195C", holder="Marie-Hélène Dupont",
                       holder_upn="marie-helene.dupont@crise.ampmetropole.fr"),
        HandoverDevice(kind="phone", asset_tag="AMP-TEL-0001", model="Apple iPhone 13",
                       imei="353918110542012", phone_number="+33757100401",
                       holder="Gérard Lucciani",
                       holder_upn="gerard.lucciani@crise.ampmetropole.fr"),
    ]


def complete_sheet(**overrides: Any) -> HandoverSheet:
    values: dict[str, Any] = {
        "commune": HandoverCommune(name="Aubagne", insee="13005", mayor="Gérard Lucciani",
                                   address="Hôtel de Ville, Esplanade Charles de Gaulle, "
                                   "13400 Aubagne"),
        "convention": HandoverConvention(deliberation_number="DEL-2025-014",
                                         deliberation_date=date(2025, 1, 30),
                                         signature_date=date(2025, 2, 20),
                                         notification_date=date(2025, 3, 1)),
        "activated_at": FIRST,
        "edited_at": FIRST - timedelta(minutes=3),
        "accounts": accounts(),
        "devices": devices(),
        "team_name": "Cellule de crise – Aubagne",
        "team_url": TEAM_URL,
        "sharepoint_url": SHAREPOINT_URL,
        "slips_file": "fiches-premiere-connexion.pdf",
        "tap_valid_from": FIRST,
        "tap_valid_until": FIRST + timedelta(hours=8),
        "metropole_contact": HandoverContact(name="Nadia Benali",
                                             email="nadia.benali@ampmetropole.fr",
                                             phone="+33465710001"),
        "commune_correspondent": HandoverContact(name="Sophie Aïssaoui",
                                                 email="sophie.aissaoui@aubagne.fr",
                                                 phone="+33465710010"),
        "metropole_signatory": "Hélène Marchal",
        "metropole_signatory_title": "Vice-présidente déléguée au numérique",
        "audit_anchor": (57, "3f2a9c1d0b7e55aa" + "0" * 48),
    }
    values.update(overrides)
    return HandoverSheet(**values)


def sparse_sheet(**overrides: Any) -> HandoverSheet:
    """A commune whose inventory lacks facts: no signature or notification date, no devices,
    no Team, no signatory, and an activation that has not succeeded yet."""
    values: dict[str, Any] = {
        "commune": HandoverCommune(name="Le Rove", insee="13088", mayor="Georges Rosso",
                                   address="Place de la Mairie, 13740 Le Rove"),
        "convention": HandoverConvention(deliberation_number="2026-45",
                                         deliberation_date=date(2026, 10, 8)),
        "activated_at": None,
        "edited_at": FIRST,
        "accounts": accounts()[:1],
        "metropole_contact": HandoverContact(name="Nadia Benali"),
        "commune_correspondent": HandoverContact(name="Camille Pons"),
        "still_provisioning": ["gerard.lucciani@crise.ampmetropole.fr"],
    }
    values.update(overrides)
    return HandoverSheet(**values)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def assert_unbroken(text: str, identifiers: list[str]) -> None:
    """Each identifier appears whole on one line of the text (never split across lines)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for ident in identifiers:
        assert any(ident in line for line in lines), f"{ident} is split or missing"


def assert_breaks_only_at_separators(text: str, url: str) -> None:
    """A long address is printed whole, its line breaks only after "/" or before "?&#"."""
    flat = re.sub(r"\s+", "", text)
    assert url in flat
    for line in text.splitlines():
        line = line.strip()
        if line and line in url and line != url:
            end = url.index(line) + len(line)
            assert end == len(url) or url[end - 1] == "/" or url[end] in "?&#", line


def assert_well_formed_html(html: str) -> None:
    """Parse with html5lib in strict mode: any WHATWG parse error fails the test."""
    import html5lib

    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
