"""What the operator reads, at a fixed width (100 columns): plan header and target, refusals
first with their fix, the prompt, outcome lines and their exit codes, status, wording."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli

from crisiskit.cli.wiring import target
from crisiskit.inventory import load_inventory
from crisiskit.state import Store

SAMPLE = Path(__file__).resolve().parents[2] / "inventory.yaml"


def flat(text: str) -> str:
    """Return text as one line of single spaces (long sentences wrap at 100 columns)."""
    return " ".join(text.split())


def test_the_plan_header_names_the_target_before_anything_else(cli: Cli) -> None:
    plan = cli("plan", "aubagne")
    assert plan.exit_code == 0, plan.stderr
    assert plan.lines[0] == "Plan: activate aubagne (playbook standard)"
    assert plan.lines[1] == (
        f"Target: the Graph endpoint {cli.env['CRISISKIT_GRAPH_URL']} (CRISISKIT_GRAPH_URL, "
        "static token)"
    )
    # A long plan is grouped: one line per kind, the summary last, -v for every step.
    assert "  + 12 accounts (gerard.lucciani@crise.ampmetropole.fr … " in plan.stdout
    tail = plan.stdout.split("(-v lists every step)\n", 1)[1]
    assert tail.startswith("Summary: to create: 12 accounts, 12 licences, 1 group, ")
    # The waits are steps of the plan too (the Team is made with its group, then waited for).
    assert flat(tail).endswith(
        "8 phone methods, 17 device loans; to wait: 12 mailboxes, 1 Team, 1 SharePoint drive."
    )


def test_every_target_is_named_sandbox_tenant_or_endpoint(
    tmp_path: Path, monkeypatch
) -> None:
    inventory = load_inventory(SAMPLE)
    for name in ("CRISISKIT_GRAPH_URL", "CRISISKIT_GRAPH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    sandbox = target(inventory, tmp_path, sandbox=True)
    assert sandbox.description == (
        f"the simulated sandbox tenant ({tmp_path}/sandbox/tenant.json), not a real tenant"
    )
    assert sandbox.where == "in the simulated sandbox tenant"
    tenant = target(inventory, tmp_path, sandbox=False)
    assert tenant.description == (
        "tenant Métropole Aix-Marseille-Provence – Tenant de crise (id "
        "4f6c2a1e-8b3d-4e7a-9c15-2d8e6f0a7b39), https://graph.microsoft.com/v1.0"
    )
    assert tenant.where == (
        "in tenant Métropole Aix-Marseille-Provence – Tenant de crise "
        "(4f6c2a1e-8b3d-4e7a-9c15-2d8e6f0a7b39)"
    )
    monkeypatch.setenv("CRISISKIT_GRAPH_URL", "http://127.0.0.1:9/v1.0")
    assert target(inventory, tmp_path, sandbox=False).where == (
        "at the Graph endpoint http://127.0.0.1:9/v1.0"
    )


def test_the_prompt_restates_the_counts_and_names_the_target(cli: Cli, monkeypatch) -> None:
    from crisiskit import console

    monkeypatch.setattr(console, "is_terminal", lambda: True)  # the operator at a terminal
    run = cli("activate", "pertuis", input="n\n")
    assert run.exit_code == 4
    url = cli.env["CRISISKIT_GRAPH_URL"]
    err = run.stderr.splitlines()
    assert err[0].startswith("Summary: to create: 2 accounts, 2 licences, 1 group, ")
    assert "Temporary Access Passes; to wait: 2 mailboxes, 1 Team, 1 SharePoint drive. " \
        f"Apply this plan to pertuis at the Graph endpoint {url}? [y/n] (n): " in flat(run.stderr)
    assert flat(run.stderr).endswith(f"Declined: nothing was changed at the Graph endpoint {url}.")
    assert "Summary:" not in run.stdout  # said once, just before the prompt


def test_a_refusal_comes_first_and_says_how_to_fix_it(cli: Cli) -> None:
    plan = cli("plan", "istres")
    assert plan.exit_code == 0
    lines = plan.lines
    refuse = lines.index("activate would refuse (nothing is changed until this is fixed):")
    table = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    first_step = next(i for i, line in enumerate(lines) if line.startswith("  + "))
    assert 1 < refuse < table < first_step
    reason = flat(" ".join(lines[refuse + 1: table]))
    assert "the convention of Istres (istres) is not in force on " in reason
    assert "it expired on 2026-05-02, at the end of its 8-year term (Article 7)." in reason
    assert "`crisiskit conventions` shows every commune's status" in reason
    run = cli("activate", "istres", "--yes")
    assert run.exit_code == 3 and "activation refused, nothing was changed" in run.stderr


def test_a_pending_convention_reads_as_a_sentence(cli: Cli) -> None:
    data = json.loads(cli("--output", "json", "plan", "vitrolles").stdout)
    (reason,) = data["refusals"]
    assert "the convention of Vitrolles (vitrolles) is not in force on " in reason
    assert ": it is pending" in reason and "notification_date" in reason
    assert "is pending on" not in reason


def test_people_the_playbook_leaves_out_are_named(cli: Cli) -> None:
    plan = cli("plan", "aubagne", "--playbook", "minimal")
    text = " ".join(plan.stdout.split())
    assert "Not provisioned by playbook minimal: Aïcha N'Diaye (communication), " in text
    assert "Loïc Bérard (police municipale)" in text
    data = json.loads(cli("--output", "json", "plan", "aubagne", "--playbook", "minimal").stdout)
    assert len(data["not_provisioned"]) == 8


def test_commune_ids_in_any_case_and_did_you_mean(cli: Cli) -> None:
    assert cli("--output", "json", "plan", "PerTuis").exit_code == 0
    wrong = cli("plan", "aubgne")
    assert wrong.exit_code == 2 and wrong.stdout == ""
    assert "unknown commune 'aubgne'; did you mean 'aubagne'? (known: aubagne, " in wrong.stderr
    assert cli("status", "nowhere").exit_code == 2


def test_audit_for_an_unknown_commune_is_exit_2_with_the_known_ids(cli: Cli) -> None:
    assert cli("activate", "pertuis", "--yes").exit_code == 0
    for command in ("export", "show"):
        run = cli("audit", command, "--commune", "pertuiss")
        assert run.exit_code == 2 and run.stdout == ""
        assert "unknown commune 'pertuiss'; did you mean 'pertuis'?" in run.stderr
        assert "(known: aix-en-provence, aubagne, " in run.stderr
    assert cli("audit", "export", "--commune", "PERTUIS").exit_code == 0


def test_dry_run_ends_saying_nothing_was_changed(cli: Cli) -> None:
    run = cli("activate", "pertuis", "--dry-run")
    assert run.exit_code == 0
    assert run.stderr.splitlines()[-1] == "Dry run: nothing was changed."
    assert not (cli.home / "outputs").exists()


def test_without_credentials_the_message_names_the_variable_and_the_sandbox(
    cli: Cli, monkeypatch
) -> None:
    for name in ("CRISISKIT_GRAPH_URL", "CRISISKIT_GRAPH_TOKEN", "AZURE_CLIENT_SECRET"):
        cli.env.pop(name, None)
        monkeypatch.delenv(name, raising=False)
    run = cli("plan", "aubagne")
    assert run.exit_code == 3 and run.stdout == ""
    message = " ".join(run.stderr.split())
    assert "cannot sign in to tenant Métropole Aix-Marseille-Provence – Tenant de crise " in message
    assert "environment variable AZURE_CLIENT_SECRET is not set" in message
    assert "To rehearse on the simulator instead, add --sandbox." in message


def test_the_final_report_of_an_activation_and_of_a_rerun(cli: Cli) -> None:
    first = cli("activate", "pertuis", "--yes")
    assert first.exit_code == 0, first.stderr
    url = cli.env["CRISISKIT_GRAPH_URL"]
    assert f"Done: pertuis activated at the Graph endpoint {url}" in flat(first.stdout)
    assert "Created 2 accounts, 2 licences, 2 Temporary Access Passes, 1 group, " in flat(
        first.stdout)
    assert "Team: ready, https://teams.microsoft.com/l/team/" in first.stdout
    assert "team: team ready" not in first.stdout.lower() + first.stderr.lower()
    # The phases, one line each, on stderr (no terminal here: no live area).
    assert "Accounts: 2 created" in first.stderr.splitlines()
    assert "Team: created, 1 channel created" in first.stderr.splitlines()

    again = cli("activate", "pertuis", "--yes", "--show-secrets")
    assert again.exit_code == 0
    assert f"Everything present (16 objects): nothing was changed at the Graph endpoint {url}." \
        in flat(again.stdout)
    assert "Handover sheet unchanged, nothing it says has changed: " in again.stdout
    creds = cli.home / "outputs" / "pertuis" / "credentials.csv"
    slips = cli.home / "outputs" / "pertuis" / "fiches-premiere-connexion.pdf"
    assert (f"--show-secrets: this run issued no pass; the passes issued earlier are in {creds} "
            f"and {slips} (mode 0600).") in " ".join(again.stdout.split())


def test_status_shows_pass_validity_links_and_devices_on_loan(cli: Cli) -> None:
    assert cli("activate", "aubagne", "--yes").exit_code == 0
    run = cli("status", "aubagne")
    assert run.exit_code == 0
    text = run.stdout
    assert "aubagne: 12 of 12 accounts present" in text
    assert "Passes on file (credentials.csv): valid from 20" in text
    assert " CET until " in text or " CEST until " in text
    assert "Team: ready, https://teams.microsoft.com/l/team/" in text
    assert "SharePoint: ready, https://" in text
    assert "aubagne: 17 devices on loan" in text
    assert "+33 7 57 10 04 01" in text  # phone numbers in one format
    data = json.loads(cli("--output", "json", "status", "aubagne").stdout)[0]
    account = data["accounts"][0]
    assert account["tap_valid_from"] < account["tap_valid_until"]
    assert data["team_url"].startswith("https://") and data["drive_url"].startswith("https://")
    assert "temporaryAccessPass" not in json.dumps(data)


def test_an_interrupted_run_at_the_boundary_is_one_line_and_exit_130(
    cli: Cli, monkeypatch
) -> None:
    from crisiskit.cli import operation

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(operation, "need_terminal", interrupt)
    run = cli("activate", "pertuis", "--yes")
    assert run.exit_code == 130
    assert run.stderr == "Interrupted.\n"
    with Store.open(cli.home) as store:
        assert store.runs("pertuis") == []
