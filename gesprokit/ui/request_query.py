"""What the address of the served page asks for (``?page=documents&document=…``, the links
of the e-mails, gesprokit.links), read from Voilà's request: only once someone has logged
in, and only as a wish that the logged-in account's rights then judge.

Voilà gives a kernel its request as CGI variables (``QUERY_STRING``). A preheated kernel
runs the notebook before any request: Voilà hands it the request when asked
(``voila.utils.wait_for_request``, answered once a person's request takes the kernel). The
question is asked while the kernel is preheated (importing Voilà's helper takes seconds: paid
before anyone arrives, not after the login, when it held up the first page), and what the
login reads of it is bounded in time; its failure means « nothing asked »."""

from __future__ import annotations

import contextlib
import os
import threading
from urllib.parse import parse_qs

from gesprokit.links import MAX_VALUE

WAIT_SECONDS = 3.0
_asking: threading.Thread | None = None


def _preheated() -> bool:
    """A kernel of Voilà's pool, not yet told its request."""
    return os.environ.get("QUERY_STRING") is None and os.environ.get("VOILA_PREHEAT") == "True"


def _ask(wait_for_request) -> None:
    with contextlib.suppress(Exception):  # no request info: the link is ignored
        wait_for_request()


def ask_for_request() -> None:
    """In a preheated kernel, start asking Voilà for the page's request (once): Voilà's
    helper is imported here, in the caller's thread (no import runs in the background,
    where it could meet one of the login's), and the answer comes in the background as
    soon as a person's request takes the kernel."""
    global _asking
    if _asking is None and _preheated():
        try:
            from voila.utils import wait_for_request
        except Exception:  # noqa: BLE001 - no request info: the link is ignored
            wait_for_request = None
        _asking = threading.Thread(target=_ask, args=(wait_for_request or (lambda: None),),
                                   daemon=True)
        _asking.start()


def voila_query_string(wait_seconds: float = WAIT_SECONDS) -> str:
    """The query string of the page's request ("" when there is none or it cannot be had)."""
    if _preheated():
        ask_for_request()
        _asking.join(wait_seconds)
    return os.environ.get("QUERY_STRING") or ""


def requested(query: str | None) -> dict[str, str]:
    """The first value of each parameter, blank ones and those too long to be an identifier
    left out; nothing from an absurd query (too long, too many fields)."""
    if not query or len(query) > 4 * MAX_VALUE:
        return {}
    try:
        values = parse_qs(query, max_num_fields=20)
    except ValueError:
        return {}
    return {k: v[0].strip() for k, v in values.items()
            if v and 0 < len(v[0].strip()) <= MAX_VALUE}
