"""Documents for communes, in French: the handover sheet and the credentials file.

    handover.render_handover(sheet) -> (markdown, html); write_handover(directory, sheet)
    credentials.write_credentials(path, rows) (CSV, mode 0600); read_credentials(path)
"""

from __future__ import annotations

from crisiskit.documents.credentials import (
    CredentialRow,
    read_credentials,
    update_credentials,
    write_credentials,
)
from crisiskit.documents.handover import (
    HandoverAccount,
    HandoverContact,
    HandoverDevice,
    HandoverSheet,
    render_handover,
    write_handover,
)

__all__ = [
    "CredentialRow",
    "HandoverAccount",
    "HandoverContact",
    "HandoverDevice",
    "HandoverSheet",
    "read_credentials",
    "render_handover",
    "update_credentials",
    "write_credentials",
    "write_handover",
]
