"""Where an e-mail sends its reader: a link to the served page (a document of the library
opened on « Documents et visas », the page where a situation awaits the recipient's role),
or, when the service's public address is not configured, the page and the identifier in
words. The link opens nothing by itself: the served application reads it after the login
(gesprokit.ui.app) and with the account's own rights."""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode, urlsplit

from gesprokit.errors import GesprokitError

BASE_URL_ENV = "GESPROKIT_BASE_URL"
DOCUMENTS_PAGE = ("documents", "Documents et visas")
# the page where each role acts on a situation (keys and titles of gesprokit.ui.app.PAGES)
SITUATION_PAGES = {
    "contractor": ("situations", "Mes situations"),
    "cocontractor": ("situations", "Mes situations"),
    "subcontractor": ("situations", "Mes situations"),
    "verifier": ("verification", "Vérification"),
    "moe": ("etats", "États d'acompte"),
    "amo": ("acceptation", "Acceptation et garanties"),
    "moa": ("validation", "Validation"),
    "treasury": ("paiements", "Paiements"),
    "auditor": ("synthese", "Synthèse"),
}
MAX_VALUE = 200  # a query value longer than this is not an identifier: ignored


def check_base_url(text: str) -> str:
    """The service's public address, without its final slash; a French refusal unless it is
    an http(s) address with a host and neither query nor fragment."""
    value = text.strip()
    parts = urlsplit(value)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
            or parts.fragment or any(c.isspace() for c in value)):
        raise GesprokitError(f"adresse du service « {text} » invalide : attendu par exemple "
                             "https://suivi.chmv.fr ou https://intranet.chmv.fr/gesprokit")
    return value.rstrip("/")


def configured_base_url(value: str | None = None) -> str | None:
    """The address given (``--base-url``), else ``$GESPROKIT_BASE_URL``, checked; None when
    neither is set."""
    text = value if value is not None else os.environ.get(BASE_URL_ENV)
    return check_base_url(text) if text and text.strip() else None


def page_link(base_url: str, page: str, document_id: str | None = None,
              contract_id: str | None = None, n: int | None = None) -> str:
    """The address of a page of the served application (and of a document or a situation
    on it), each value URL-encoded."""
    query = {"page": page, **({"document": document_id} if document_id else {}),
             **({"contract": contract_id, "n": str(n)} if contract_id and n is not None
                else {})}
    return f"{base_url}/?{urlencode(query, quote_via=quote, safe='')}"


def where_to_find(base_url: str | None, *, document_id: str | None = None,
                  contract_id: str | None = None, n: int | None = None,
                  role: str | None = None) -> str:
    """The French line an e-mail ends with: the link, or the page and identifier in words."""
    if document_id:
        key, title = DOCUMENTS_PAGE
        if base_url:
            return (f"Ouvrir le document {document_id} (après connexion) : "
                    f"{page_link(base_url, key, document_id)}")
        return (f"Où le trouver : dans gesprokit, page « {title} », « Ouvrir un document », "
                f"document {document_id}.")
    if contract_id:
        what = f"marché {contract_id}" + (f", situation n°{n}" if n is not None else "")
        key, title = SITUATION_PAGES.get(role or "", (None, None))
        if base_url and key:
            return f"Ouvrir la page « {title} » ({what}, après connexion) : " \
                   f"{page_link(base_url, key, contract_id=contract_id, n=n)}"
        if base_url:
            return f"Ouvrir gesprokit ({what}, après connexion) : {base_url}/"
        return "Où la trouver : dans gesprokit" + (f", page « {title} »" if title else "") \
            + f", {what}."
    return f"gesprokit : {base_url}/" if base_url else ""


def with_location(body: str, location: str) -> str:
    """The e-mail's text with the location line before its signature."""
    if not location:
        return body
    signature = "— gesprokit\n"
    if body.endswith(signature):
        return f"{body[:-len(signature)]}{location}\n\n{signature}"
    return f"{body.rstrip()}\n\n{location}\n"
