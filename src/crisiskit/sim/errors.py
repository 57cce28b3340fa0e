"""The simulator's Graph errors: one exception type and one builder per documented error.

Every family raises these; the dispatcher turns a `SimError` into Graph's error body
`{"error": {"code", "message", "innerError": {...}, "details"?}}` with the status. Codes differ
per workload (the directory says `Request_ResourceNotFound`, SharePoint `itemNotFound`, Teams
`NotFound`, Exchange `ErrorItemNotFound`); each builder names the workload it speaks for.
This module imports nothing from the simulator, so every module can use it.
"""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """A Graph error: `{"error": {"code", "message", "innerError": {...}}}` with this status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


# ---------------------------------------------------------------- request level


def bad_request(
    message: str, *, target: str | None = None, code: str = "Request_BadRequest"
) -> SimError:
    """Return a 400; with `target`, Graph's `details` name the offending property."""
    details = [{"code": "InvalidValue", "message": message, "target": target}] if target else None
    return SimError(400, code, message, details=details)


def object_conflict(prop: str) -> SimError:
    """Return the directory's 400 for a unique property already taken (UPN, mailNickname)."""
    message = f"Another object with the same value for property {prop} already exists."
    return SimError(
        400,
        "Request_BadRequest",
        message,
        details=[{"code": "ObjectConflict", "message": message, "target": prop}],
    )


def invalid_json(detail: str = "") -> SimError:
    """Return Graph's 400 for a body that is not acceptable JSON."""
    suffix = f" {detail}" if detail else ""
    return SimError(400, "BadRequest", f"Unable to read JSON request payload.{suffix}")


def empty_payload() -> SimError:
    return SimError(400, "BadRequest", "Empty Payload. JSON content expected.")


def segment_not_found(segment: str) -> SimError:
    """Return Graph's 400 for a URL no endpoint serves."""
    return SimError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def method_not_allowed(method: str) -> SimError:
    return SimError(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed.")


def invalid_version(version: str) -> SimError:
    return SimError(400, "BadRequest", f"Invalid version: {version or '(none)'}")


def unsupported_query(message: str) -> SimError:
    """Return the directory's 400 for a query it does not serve (concepts/aad-advanced-queries)."""
    return SimError(400, "Request_UnsupportedQuery", message)


def invalid_filter(detail: str) -> SimError:
    return SimError(400, "BadRequest", f"Invalid filter clause: {detail}")


# ---------------------------------------------------------------- authentication, permissions


def unauthenticated(message: str = "Access token is empty.") -> SimError:
    return SimError(401, "InvalidAuthenticationToken", message)


def forbidden(code: str, message: str) -> SimError:
    """Return a 403 in the words of the workload that refuses (see `permissions`)."""
    return SimError(403, code, message)


def insufficient_privileges() -> SimError:
    """Return the directory's 403 (Authorization_RequestDenied)."""
    return forbidden(
        "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


# ---------------------------------------------------------------- not found, per workload


def not_found(what: str) -> SimError:
    """Return the directory's 404 for an id or key that matches nothing."""
    return SimError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def item_not_found(message: str = "The resource could not be found.") -> SimError:
    """Return SharePoint / OneDrive's 404."""
    return SimError(404, "itemNotFound", message)


def invalid_request(message: str) -> SimError:
    """Return SharePoint / OneDrive's 400."""
    return SimError(400, "invalidRequest", message)


def name_already_exists(name: str) -> SimError:
    """Return SharePoint / OneDrive's 409 for a name taken in the folder (`conflictBehavior`)."""
    return SimError(
        409, "nameAlreadyExists", f"The specified item name already exists. Name: {name}"
    )


def mysite_not_found() -> SimError:
    """Return the 404 of `GET /users/{id}/drive` for a user without a OneDrive (reported)."""
    return SimError(404, "ResourceNotFound", "User's mysite not found.")


def team_not_found(team_id: str) -> SimError:
    """Return Teams' 404 for a team that does not exist (yet)."""
    return SimError(404, "NotFound", f"No team found with Group Id {team_id}")


def teams_not_found(message: str) -> SimError:
    """Return Teams' 404 for anything else it cannot find (channel, operation, message)."""
    return SimError(404, "NotFound", message)


def method_not_found(method_id: str) -> SimError:
    """Return the authentication methods' 404."""
    return SimError(404, "itemNotFound", f"Authentication method '{method_id}' was not found.")


def method_bad_request(message: str) -> SimError:
    """Return the authentication methods' 400 (code `badRequest`)."""
    return SimError(400, "badRequest", message)


def mailbox_not_enabled() -> SimError:
    """Return Exchange's 404 for a mailbox not provisioned yet (reported wording)."""
    return SimError(
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )


def mail_item_not_found() -> SimError:
    """Return Exchange's 404 (messages, folders, events, contacts, threads, posts)."""
    return SimError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def invalid_parameter(message: str) -> SimError:
    """Return Exchange's 400 for a bad query or body value."""
    return SimError(400, "ErrorInvalidParameter", message)


# ---------------------------------------------------------------- service state


def throttled(retry_after: float) -> SimError:
    """Return a 429 whose Retry-After carries the fraction of a second the service sends."""
    return SimError(
        429,
        "TooManyRequests",
        "Too many requests are being sent. Retry after the indicated time.",
        headers={"Retry-After": format_retry_after(retry_after)},
    )


def format_retry_after(seconds: float) -> str:
    """Format a wait as Graph does: seconds, with up to three decimals (`2.128`, `1`)."""
    text = f"{max(0.001, seconds):.3f}".rstrip("0").rstrip(".")
    return text


def service_unavailable(retry_after: float | None = None) -> SimError:
    headers = {"Retry-After": format_retry_after(retry_after)} if retry_after else None
    return SimError(
        503,
        "serviceNotAvailable",
        "The service is temporarily unavailable. Retry later.",
        headers=headers,
    )


def gateway_timeout() -> SimError:
    return SimError(504, "gatewayTimeout", "The gateway timed out.")


def internal_error() -> SimError:
    return SimError(500, "generalException", "An internal server error occurred.")
