"""Errors raised by the Graph door; their messages never hold request bodies nor tokens."""

from __future__ import annotations

from crisiskit.errors import OperationFailed


class GraphError(OperationFailed):
    """Microsoft Graph answered with an error, or did not answer within the retry budget.

    `status` is 0 when no HTTP answer was received (timeout, dropped connection).
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        where = f"Graph {method} {path}"
        what = f"{status} {code}" if status else code
        rid = f" (request-id {request_id})" if request_id else ""
        super().__init__(f"{where}: {what}: {message}{rid}")


class AmbiguousWrite(GraphError):
    """A write got a 5xx, a timeout or a dropped connection: it may or may not have happened.

    Never resend it blind: look the object up by its natural key (UPN, mailNickname, folder
    path) first, then create it only if it is absent.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            method,
            path,
            status,
            "ambiguousWrite",
            f"outcome unknown ({reason}); look the object up before retrying",
            request_id,
        )
