"""Documents for communes, in French: one mechanism (Markdown template → md, HTML, PDF).

    render.render(template, context, ...) -> Document; render.write_document(document, ...)
    handover.write_handover(directory, sheet)          fiche-de-remise.md / .html / .pdf (0644)
    slips.write_signin_slips(outputs_dir, slips, ...)   fiches-premiere-connexion.pdf (0600)
    kit.write_kit_documents(outputs_dir, ...)           both, at activation
    convention.render_convention(path, context, ...)    the Métropole's template, sandboxed
    rgpd.record_document(inventory, playbooks, today)   GDPR Article 30 record
    sign.load_signer(path)                              PAdES signature of every PDF
    credentials.write_credentials(path, rows) (CSV, mode 0600); read_credentials(path)

Nothing here is imported by `crisiskit --help`; typst and pyHanko load only when a PDF is
written or signed.
"""

from __future__ import annotations
