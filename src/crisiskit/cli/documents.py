"""Commands: convention render, convention variables, rgpd record; the --sign-with option.

Nothing here talks to Microsoft Graph. The PDF library (typst) and the signature library
(pyHanko) load only when a PDF is written or signed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisiskit import console
from crisiskit.cli.app import AppState, group, handles_errors, state

if TYPE_CHECKING:
    from crisiskit.documents.render import Document

SignWithOption = Annotated[
    Path | None,
    typer.Option(
        "--sign-with",
        metavar="FILE.p12",
        help="Sign every PDF written with this PKCS#12 certificate (PAdES); its password is "
        "read from $CRISISKIT_SIGN_PASSWORD.",
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", help="Formats to write, comma-separated: md,html,pdf.")
]
ToOption = Annotated[
    Path | None, typer.Option("--to", metavar="DIR", help="Folder to write the files in.")
]


def signer_for(path: Path | None) -> Any | None:
    """Load the signer of --sign-with before any work (InputError: exit 2), or None."""
    if path is None:
        return None
    from crisiskit.documents.sign import PASSWORD_ENV, load_signer
    from crisiskit.secrets import Secret

    return load_signer(path, Secret(os.environ.get(PASSWORD_ENV, "")))


def _report(st: AppState, document: Document, written: Any, what: str) -> None:
    if document.missing:
        console.warn(
            "facts the inventory does not hold are printed as blanks (________): "
            + ", ".join(document.missing)
        )
    paths = {kind: str(path) for kind, path in written.paths.items()}
    if st.json:
        console.emit_json({"document": what, "files": paths, "blanks": list(document.missing)})
        return
    for path in paths.values():
        console.text(f"{what}: {path}")


convention_app = typer.Typer(
    name="convention",
    help="Fill in the Métropole's convention template with a commune's facts."
    "\n\nExample: crisiskit convention render aubagne --template docs/convention-exemple.md.j2",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(convention_app, "convention")


@convention_app.command("render")
@handles_errors
def convention_render(
    ctx: typer.Context,
    commune: Annotated[str, typer.Argument(help="Commune id, e.g. aubagne.")],
    *,
    template: Annotated[
        Path,
        typer.Option("--template", metavar="FILE",
                     help="The Métropole's convention template (Jinja2 Markdown)."),
    ],
    to: ToOption = None,
    formats: FormatOption = "md,html,pdf",
    sign_with: SignWithOption = None,
) -> None:
    """Fill in the convention template with the commune's facts (md, html, pdf).

    Unknown variables are an error naming FILE:LINE (exit 2); facts the inventory does not
    hold print as blanks and are listed in a warning. `crisiskit convention variables`
    lists what a template may use; docs/convention-exemple.md.j2 is an example.

    Example: crisiskit convention render aubagne --template docs/convention-exemple.md.j2
    """
    from crisiskit.documents.convention import convention_context, render_convention
    from crisiskit.documents.processing import processing_for
    from crisiskit.documents.render import identity_of, parse_formats, today_in_paris
    from crisiskit.documents.typography import commune_title
    from crisiskit.inventory import load_inventory
    from crisiskit.playbooks import load_playbook

    st = state(ctx)
    chosen = parse_formats(formats)
    signer = signer_for(sign_with)
    inventory = load_inventory(st.inventory_path, st.playbooks_dir)
    c = inventory.commune(commune)
    book = load_playbook(c.playbook, st.playbooks_dir)
    context = convention_context(inventory, c, processing_for([(c, book)]), today_in_paris())
    document = render_convention(
        template,
        context,
        identity=identity_of(inventory.metropole),
        title=f"Convention de mise à disposition – {commune_title(c.name)}",
        footer=f"Convention de mise à disposition – {commune_title(c.name)}",
    )
    from crisiskit.documents.render import write_document

    directory = to or st.home / "outputs" / c.id
    written = write_document(document, directory, f"convention-{c.id}", formats=chosen,
                             signer=signer)
    _report(st, document, written, "convention")


@convention_app.command("variables")
@handles_errors
def convention_variables(ctx: typer.Context) -> None:
    """List every variable and filter a convention template may use.

    Example: crisiskit convention variables
    """
    from crisiskit.documents.convention import FILTERS, VARIABLES

    st = state(ctx)
    if st.json:
        console.emit_json(
            {
                "variables": [
                    {"name": v.name, "kind": v.kind, "description": v.description}
                    for v in VARIABLES
                ],
                "filters": [{"name": n, "description": d} for n, d in FILTERS],
            }
        )
        return
    console.table(
        "Convention template variables",
        ["Variable", "Kind", "Description"],
        [[v.name, v.kind, v.description] for v in VARIABLES],
        caption="A fact the inventory does not hold prints as ________ and is listed in a "
        "warning; an unknown variable is an error.",
    )
    console.table(
        "Filters ({{ value | filter }})",
        ["Filter", "Description"],
        [list(f) for f in FILTERS],
    )


rgpd_app = typer.Typer(
    name="rgpd",
    help="GDPR documents of the service.\n\nExample: crisiskit rgpd record --to records/",
    no_args_is_help=True,
    rich_markup_mode=None,
)
group(rgpd_app, "rgpd")


@rgpd_app.command("record")
@handles_errors
def rgpd_record(
    ctx: typer.Context,
    *,
    to: ToOption = None,
    formats: FormatOption = "md,html,pdf",
    sign_with: SignWithOption = None,
) -> None:
    """Write the service's register-of-processing entry (GDPR Article 30), in French.

    Its data categories come from the playbooks in use, its security measures from the code
    that implements them. Default folder: $CRISISKIT_HOME/outputs/.

    Example: crisiskit rgpd record --to records/
    """
    from crisiskit.documents.render import parse_formats, today_in_paris, write_document
    from crisiskit.documents.rgpd import STEM, load_playbooks, record_document
    from crisiskit.inventory import load_inventory

    st = state(ctx)
    chosen = parse_formats(formats)
    signer = signer_for(sign_with)
    inventory = load_inventory(st.inventory_path, st.playbooks_dir)
    playbooks = load_playbooks(inventory, st.playbooks_dir)
    document = record_document(inventory, playbooks, today_in_paris())
    written = write_document(document, to or st.home / "outputs", STEM, formats=chosen,
                             signer=signer)
    _report(st, document, written, "register entry")


__all__ = ["SignWithOption", "convention_app", "rgpd_app", "signer_for"]
