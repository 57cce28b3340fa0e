"""UPN naming: transliteration, Graph's character rules, deterministic homonym suffixes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiskit.inventory.models import Commune, Person
from crisiskit.inventory.naming import roster_accounts, slug_part

# Graph: a UPN local part holds ASCII letters, digits and ' . - _ ! # ^ ~ only.
GRAPH_LOCAL_PART = re.compile(r"^[A-Za-z0-9'.\-_!#^~]{1,64}$")


def commune(*names: tuple[str, str], name: str = "Aubagne") -> Commune:
    return Commune.model_validate(
        {
            "id": "aubagne",
            "name": name,
            "insee": "13005",
            "address": "Hôtel de Ville",
            "mayor": "M. le Maire",
            "convention": {"deliberation_number": "1", "deliberation_date": "2025-01-01"},
            "correspondent": {"name": "C", "email": "c@aubagne.fr", "phone": "0465710010"},
            "roster": [{"given_name": g, "surname": s, "role": "agent"} for g, s in names],
        }
    )


@pytest.mark.parametrize(
    ("given_name", "surname", "local"),
    [
        ("Marie-Hélène", "Dupont", "marie-helene.dupont"),
        ("François", "Garçon", "francois.garcon"),
        ("Aïcha", "N'Diaye", "aicha.ndiaye"),
        ("Aïcha", "N’Diaye", "aicha.ndiaye"),
        ("Hélène", "Le Goff", "helene.le-goff"),
        ("Anaïs", "de La  Fontaine", "anais.de-la-fontaine"),
        ("Lætitia", "Œuvray", "laetitia.oeuvray"),
        ("Jürgen", "Straße", "jurgen.strasse"),
        ("Zoé", "D'Almeida--Ruiz", "zoe.dalmeida-ruiz"),
        ("  Loïc ", "Bérard-", "loic.berard"),
        ("Ève", "Ødegård", "eve.odegard"),
        ("Jean (Jo)", "Martin", "jean-jo.martin"),
    ],
)
def test_names_are_transliterated_to_graph_safe_upns(
    given_name: str, surname: str, local: str
) -> None:
    (account,) = roster_accounts(commune((given_name, surname)), "crise.ampmetropole.fr")
    assert account.upn == f"{local}@crise.ampmetropole.fr"
    assert account.mail_nickname == local
    assert GRAPH_LOCAL_PART.match(account.mail_nickname)


def test_display_name_says_whose_crisis_cell() -> None:
    (account,) = roster_accounts(commune(("Marie-Hélène", "Dupont")), "d.fr")
    assert account.display_name == "Marie-Hélène Dupont (Crise Aubagne)"


def test_homonyms_are_numbered_in_roster_order() -> None:
    c = commune(("Jean", "Martin"), ("Zoé", "Roux"), ("Jean", "Martin"), ("JEAN", "MARTIN"))
    accounts = roster_accounts(c, "d.fr")
    assert [a.mail_nickname for a in accounts] == [
        "jean.martin", "zoe.roux", "jean.martin2", "jean.martin3"
    ]
    assert [a.homonym_of for a in accounts] == [None, None, 0, 0]


def test_a_real_name_that_looks_suffixed_does_not_collide() -> None:
    c = commune(("Jean", "Martin"), ("Jean", "Martin"), ("Jean", "Martin2"))
    assert [a.mail_nickname for a in roster_accounts(c, "d.fr")] == [
        "jean.martin", "jean.martin2", "jean.martin22"
    ]


def test_an_explicit_account_name_wins() -> None:
    c = commune(("Valérie", "Roux"))
    data = c.model_dump()
    data["roster"][0]["account"] = "valerie.roux.cassis"
    (account,) = roster_accounts(Commune.model_validate(data), "d.fr")
    assert account.upn == "valerie.roux.cassis@d.fr"


def test_a_name_without_ascii_letters_gives_no_upn() -> None:
    (account,) = roster_accounts(commune(("李", "王")), "d.fr")
    assert account.upn == "" and account.mail_nickname == ""


names = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "Zs", "Pd", "Po", "Nd")),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=1, max_size=12))
def test_upns_are_valid_distinct_and_deterministic(people: list[tuple[str, str]]) -> None:
    c = commune(*people)
    first = roster_accounts(c, "crise.ampmetropole.fr")
    assert first == roster_accounts(c, "crise.ampmetropole.fr")
    made = [a.mail_nickname for a in first if a.mail_nickname]
    assert len(made) == len(set(made))
    for local in made:
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)?\d*", local)
        assert not local.startswith((".", "-")) and ".." not in local and "--" not in local
    for (given_name, surname), account in zip(people, first, strict=True):
        if slug_part(given_name) and slug_part(surname):
            assert account.mail_nickname.startswith(slug_part(given_name) + ".")


def test_person_is_a_roster_entry() -> None:
    p = Person(given_name="Jean", surname="Martin", role="dsi", laptop=True)
    assert p.full_name == "Jean Martin" and not p.phone and not p.team_owner
