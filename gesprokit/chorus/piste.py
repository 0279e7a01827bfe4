"""Client of the Chorus Pro API through PISTE.

Protocol (DOMAIN §5.6): an OAuth2 client-credentials token from the PISTE token endpoint,
then JSON POSTs to ``<api>/cpro/<service>/v1/...`` with ``Authorization: Bearer <token>``
and ``cpro-account: base64(login:password)`` (the Chorus Pro technical user). Answers
carry ``codeRetour`` (0 = success). The token is reused until shortly before it expires and
fetched again once when the API answers 401; network errors, 429 and 5xx answers are retried
with exponential backoff. Neither the client secret, the technical password, the token nor
the ``cpro-account`` header is ever logged or shown in a repr.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from gesprokit.errors import GesprokitError

log = logging.getLogger("gesprokit.chorus")

PRODUCTION = {"oauth": "https://oauth.piste.gouv.fr/api/oauth/token",
              "api": "https://api.piste.gouv.fr"}
SANDBOX = {"oauth": "https://sandbox-oauth.piste.gouv.fr/api/oauth/token",
           "api": "https://sandbox-api.piste.gouv.fr"}
RETRY_STATUSES = {429, 500, 502, 503, 504}
TOKEN_MARGIN_S = 60  # fetch a new token this long before the current one expires
MAX_RESPONSE_BYTES = 20 * 2**20  # no Chorus answer comes near: a bigger one is refused


class ChorusError(GesprokitError):
    """Chorus Pro refused a call (``codeRetour`` ≠ 0, or an HTTP error)."""

    def __init__(self, service: str, code: int | None, label: str, http_status: int):
        self.service, self.code, self.label, self.http_status = service, code, label, http_status
        super().__init__(f"Chorus Pro a refusé « {service} » (code retour {code}, {label}, "
                         f"HTTP {http_status}).")


class ChorusUnavailable(GesprokitError):
    """Chorus Pro (or PISTE) did not answer after every retry."""


class ChorusAnswerLost(ChorusUnavailable):
    """A call that creates something got no answer (network error, 429 or 5xx): it may or
    may not have been done. Never retried blindly: the caller looks first."""


# "no result" answers: HTTP 200 with these return codes are empty results, not errors
# (20000 TRA_MSG_00.015 searches, 20007 GFT_MSG_01.075 works-invoice searches)
NO_RESULT_CODES = {20000, 20007}


@dataclass(frozen=True)
class PisteConfig:
    """Credentials and endpoints. ``sandbox`` picks PISTE's sandbox URLs; ``oauth_url`` and
    ``api_url`` override them (a local contract server, a proxy)."""

    client_id: str
    client_secret: str = field(repr=False)
    login: str
    password: str = field(repr=False)
    sandbox: bool = True
    oauth_url: str | None = None
    api_url: str | None = None
    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.5
    # each structure (titulaire, MOE, MOA) deposits with its own technical account: SIRET ->
    # (login, password); a SIRET absent here uses `login`/`password`
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def account_for(self, siret: str | None) -> tuple[str, str]:
        """The technical account (login, password) that acts for the structure `siret`."""
        return self.accounts.get(siret or "", (self.login, self.password))

    @property
    def token_url(self) -> str:
        return self.oauth_url or (SANDBOX if self.sandbox else PRODUCTION)["oauth"]

    @property
    def base_url(self) -> str:
        return (self.api_url or (SANDBOX if self.sandbox else PRODUCTION)["api"]).rstrip("/")

    @classmethod
    def from_env(cls, environ: dict | None = None) -> PisteConfig:
        """Read ``GESPROKIT_PISTE_*``: CLIENT_ID, CLIENT_SECRET, LOGIN, PASSWORD, ENV
        (``sandbox`` by default, or ``production``), and optionally OAUTH_URL, API_URL."""
        env = os.environ if environ is None else environ
        missing = [k for k in ("CLIENT_ID", "CLIENT_SECRET", "LOGIN", "PASSWORD")
                   if not env.get(f"GESPROKIT_PISTE_{k}")]
        if missing:
            raise GesprokitError("Configuration PISTE incomplète : "
                                 + ", ".join(f"GESPROKIT_PISTE_{k}" for k in missing)
                                 + " manquant(s).")
        mode = env.get("GESPROKIT_PISTE_ENV", "sandbox").lower()
        if mode not in ("sandbox", "production"):
            raise GesprokitError(f"GESPROKIT_PISTE_ENV « {mode} » : sandbox ou production.")
        accounts = {}
        for key, login in env.items():  # GESPROKIT_PISTE_LOGIN_<SIRET> + _PASSWORD_<SIRET>
            if key.startswith("GESPROKIT_PISTE_LOGIN_"):
                siret = key.removeprefix("GESPROKIT_PISTE_LOGIN_")
                password = env.get(f"GESPROKIT_PISTE_PASSWORD_{siret}")
                if not password:
                    raise GesprokitError(f"Configuration PISTE : GESPROKIT_PISTE_PASSWORD_{siret} "
                                         f"manquant pour le compte technique de {siret}.")
                accounts[siret] = (login, password)
        return cls(client_id=env["GESPROKIT_PISTE_CLIENT_ID"],
                   client_secret=env["GESPROKIT_PISTE_CLIENT_SECRET"],
                   login=env["GESPROKIT_PISTE_LOGIN"], password=env["GESPROKIT_PISTE_PASSWORD"],
                   sandbox=mode == "sandbox", oauth_url=env.get("GESPROKIT_PISTE_OAUTH_URL"),
                   api_url=env.get("GESPROKIT_PISTE_API_URL"), accounts=accounts)


class PisteClient:
    """Calls Chorus Pro services; one instance keeps its token between calls."""

    def __init__(self, config: PisteConfig, http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s)
        self._sleep, self._clock = sleep, clock
        self._token: str | None = None
        self._token_expires = 0.0
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"PisteClient({self.config!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PisteClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------

    def _send(self, url: str, what: str, **kwargs) -> httpx.Response:
        """One POST, read whole within `timeout_s` overall (a server that drips its answer
        does not hold the call) and at most MAX_RESPONSE_BYTES."""
        deadline = self._clock() + self.config.timeout_s
        with self._http.stream("POST", url, **kwargs) as streamed:
            chunks, size = [], 0
            for chunk in streamed.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ChorusError(what, None, "réponse trop volumineuse (plus de "
                                      f"{MAX_RESPONSE_BYTES // 2**20} Mio)",
                                      streamed.status_code)
                if self._clock() > deadline:
                    raise httpx.ReadTimeout(f"plus de {self.config.timeout_s:g} s")
                chunks.append(chunk)
            return httpx.Response(streamed.status_code, headers=streamed.headers,
                                  content=b"".join(chunks), request=streamed.request)

    def _post(self, url: str, what: str, idempotent: bool = True, **kwargs) -> httpx.Response:
        """POST with retries on network errors, 429 and 5xx (exponential backoff); a call
        that is not `idempotent` is sent once and a lost answer raises ChorusAnswerLost."""
        for attempt in range(self.config.retries + 1):
            try:
                response = self._send(url, what, **kwargs)
            except httpx.TransportError as exc:
                log.warning("%s : erreur réseau (%s), essai %d", what, type(exc).__name__,
                            attempt + 1)
                if not idempotent:
                    raise ChorusAnswerLost(f"Chorus Pro n'a pas répondu à « {what} » : la "
                                           "pièce est peut-être déposée.") from None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                log.warning("%s : HTTP %d, essai %d", what, response.status_code, attempt + 1)
                if not idempotent:
                    raise ChorusAnswerLost(f"Chorus Pro a répondu HTTP {response.status_code} "
                                           f"à « {what} » : la pièce est peut-être déposée.")
            if attempt < self.config.retries:
                self._sleep(self.config.backoff_s * 2 ** attempt)
        raise ChorusUnavailable(f"Chorus Pro ne répond pas à « {what} » après "
                                f"{self.config.retries + 1} essais : réessayez plus tard.")

    def _access_token(self) -> str:
        if self._token and self._clock() < self._token_expires - TOKEN_MARGIN_S:
            return self._token
        self.token_requests += 1
        response = self._post(self.config.token_url, "jeton PISTE", data={
            "grant_type": "client_credentials", "client_id": self.config.client_id,
            "client_secret": self.config.client_secret, "scope": "openid"})
        if response.status_code != 200:
            raise ChorusError("jeton PISTE", None, self._scrub(_error_label(response)),
                              response.status_code)
        body = _json_object(response)
        token = body.get("access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = -1.0
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise ChorusError("jeton PISTE", None, "réponse du serveur de jetons illisible",
                              response.status_code)
        self._token = token
        self._token_expires = self._clock() + lifetime
        log.info("jeton PISTE obtenu (valable %s s)", body.get("expires_in"))
        return self._token

    def _headers(self, siret: str | None = None) -> dict[str, str]:
        account = ":".join(self.config.account_for(siret)).encode()
        return {"Authorization": f"Bearer {self._access_token()}",
                "cpro-account": base64.b64encode(account).decode("ascii"),
                "Content-Type": "application/json;charset=utf-8",
                "Accept": "application/json"}

    def call(self, service: str, payload: dict, *, siret: str | None = None,
             idempotent: bool = True) -> dict:
        """POST `payload` to ``/cpro/<service>`` with the technical account of the structure
        `siret`; the decoded answer ("no result" codes read as an empty answer), or
        :class:`ChorusError`. A call that creates something is not `idempotent`: sent once."""
        url = f"{self.config.base_url}/cpro/{service.strip('/')}"
        response = self._post(url, service, idempotent, json=payload,
                              headers=self._headers(siret))
        if response.status_code == 401:  # token expired or revoked: one new token, one retry
            log.info("%s : jeton refusé, nouveau jeton", service)
            self._token = None
            response = self._post(url, service, idempotent, json=payload,
                                  headers=self._headers(siret))
        log.info("%s : HTTP %d", service, response.status_code)
        body = _json_object(response)
        code = body.get("codeRetour")
        if response.status_code == 200 and code in NO_RESULT_CODES:
            return body
        if response.status_code >= 400 or (code not in (None, 0)):
            raise ChorusError(service, code, self._scrub(_error_label(response, body)),
                              response.status_code)
        if not body and response.content:
            raise ChorusError(service, None, "réponse illisible (pas un objet JSON)",
                              response.status_code)
        return body

    def _scrub(self, text: str) -> str:
        """A server's message with any of our secrets it echoed masked."""
        secrets_ = [self.config.client_secret, self.config.password, self._token,
                    *(p for _login, p in self.config.accounts.values())]
        for secret in secrets_:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # --- services ----------------------------------------------------------------------------

    def find_structure(self, siret: str) -> dict:
        """``structures/v1/rechercher``: the structure registered under a SIRET (asked with
        that structure's own technical account when it has one)."""
        body = self.call("structures/v1/rechercher", {
            "restreindreStructuresPrivees": False,
            "structure": {"identifiantStructure": siret, "typeIdentifiantStructure": "SIRET"}},
            siret=siret)
        found = body.get("listeStructures") or []
        if not found:
            raise ChorusError("structures/v1/rechercher", body.get("codeRetour"),
                              f"aucune structure pour le SIRET {siret}", 200)
        return found[0]

    def structure_parameters(self, structure_id: int) -> dict:
        """``structures/v1/consulter``: the structure's compulsory references."""
        return _required(self.call("structures/v1/consulter",
                                   {"idStructureCPP": structure_id, "codeLangue": "fr"}),
                         "parametres", "structures/v1/consulter")

    def structure_services(self, structure_id: int) -> list[dict]:
        """``structures/v1/rechercher/services``: every service of the structure."""
        return self.call("structures/v1/rechercher/services", {
            "idStructure": structure_id,
            "parametresRechercherServicesStructure": {"nbResultatsParPage": 10000},
        }).get("listeServices", [])

    def add_file(self, name: str, content: bytes, mime: str = "application/pdf", *,
                 siret: str | None = None) -> int:
        """``transverses/v1/ajouter/fichier``: upload an attachment, returns its id."""
        return _required(self.call("transverses/v1/ajouter/fichier", {
            "pieceJointeFichier": base64.b64encode(content).decode("ascii"),
            "pieceJointeNom": name, "pieceJointeTypeMime": mime,
            "pieceJointeExtension": name.rsplit(".", 1)[-1].upper()}, siret=siret),
            "pieceJointeId", "transverses/v1/ajouter/fichier")

    def submit(self, invoice: dict, *, siret: str | None = None) -> dict:
        """``factures/v1/soumettre``: deposit an invoice (sent once: a lost answer raises
        ChorusAnswerLost); returns ``identifiantFactureCPP``, ``numeroFacture``…"""
        return self.call("factures/v1/soumettre", invoice, siret=siret, idempotent=False)

    def submit_works(self, invoice: dict, *, siret: str | None = None) -> dict:
        """``facturesTravaux/v1/soumettre`` (soumettreFactureTravaux): deposit a works piece
        (A4, A15, A19, A7…), sent once; returns ``idFactureTravaux``,
        ``numeroFactureTravaux``, ``dateDepot``, ``statutFactureTravaux``."""
        return self.call("facturesTravaux/v1/soumettre", invoice, siret=siret,
                         idempotent=False)

    def history(self, invoice_id: int, *, siret: str | None = None) -> dict:
        """``factures/v1/consulter/historique``: current status and every dated status."""
        return self.call("factures/v1/consulter/historique",
                         {"idFacture": invoice_id, "nbResultatsMaximum": 100}, siret=siret)

    def search_works_invoices(self, role: str, page: int = 1, per_page: int = 100, *,
                              siret: str | None = None, number: str | None = None) -> dict:
        """``facturesTravaux/v1/rechercher``: the works invoices seen in a role
        (FOURNISSEUR, MOE or MOA), optionally one number; "no result" is an empty list."""
        criteria = {"numeroFactureTravaux": number} if number else {}
        return self.call("facturesTravaux/v1/rechercher", {
            "roleUtilisateur": role, **criteria,
            "rechercheFactureTravaux": {"pageResultatDemandee": page,
                                        "nbResultatsParPage": per_page}}, siret=siret)

    def treat_works_invoice(self, role: str, invoice_id: int, action: str, reason: str,
                            comment: str, *, siret: str) -> dict:
        """``facturesTravaux/v1/traiter/moa`` or ``…/moe`` (traiterFactureTravaux): the
        recipient refuses (``REFUS``) or suspends (``SUSPENSION``) a piece it received, with
        its reason; sent once. Returns ``statutFactureTravaux`` and ``dateTraitement``."""
        return self.call(f"facturesTravaux/v1/traiter/{role}", {
            "idFactureTravaux": invoice_id, "action": action, "motif": reason,
            "commentaire": comment}, siret=siret, idempotent=False)

    def complete_works_invoice(self, invoice_id: int, comment: str, file_ids: list[int], *,
                               siret: str) -> dict:
        """``facturesTravaux/v1/completer`` (completerFactureTravaux): the depositor completes
        a suspended piece with a comment and attachments; sent once."""
        return self.call("facturesTravaux/v1/completer", {
            "idFactureTravaux": invoice_id, "commentaire": comment,
            "idsPiecesJointes": file_ids}, siret=siret, idempotent=False)

    def find_works_invoice(self, number: str, *, siret: str) -> dict | None:
        """The works piece the structure `siret` deposited under `number`, or None (a
        search: safe to repeat)."""
        found = self.search_works_invoices("FOURNISSEUR", siret=siret, number=number)
        return next((f for f in found.get("listeFacturesTravaux") or []
                     if f.get("numeroFactureTravaux") == number), None)


def status_history(body: dict) -> list[tuple[datetime, str]]:
    """The dated statuses of a ``consulter/historique`` answer, oldest first:
    ``historiquesDesStatuts.histoStatut[]`` with ``histoStatutCode`` and
    ``histoStatutDatePassage`` (``AAAA-MM-JJ HH:MM``). A lone status may come as an object
    rather than a one-item list; an answer without history gives its current status alone
    (undated statuses are not invented a date: they are left out)."""
    holder = body.get("historiquesDesStatuts") or {}
    items = holder.get("histoStatut") if isinstance(holder, dict) else None
    if isinstance(items, dict):
        items = [items]
    out = []
    for item in items or []:
        code, passed = item.get("histoStatutCode"), item.get("histoStatutDatePassage")
        if not code or not passed:
            continue
        try:
            at = datetime.strptime(passed[:16], "%Y-%m-%d %H:%M")
        except ValueError:
            at = datetime.fromisoformat(passed)
        out.append((at, code))
    return sorted(out)


def _json_object(response: httpx.Response) -> dict:
    """The answer's JSON object, or {} (not JSON, or JSON but not an object)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _required(body: dict, key: str, service: str):
    """`body[key]`, or a French ChorusError naming what the answer lacks."""
    if key not in body:
        raise ChorusError(service, body.get("codeRetour"), f"réponse sans « {key} »", 200)
    return body[key]


def _error_label(response: httpx.Response, body: dict | None = None) -> str:
    if body is None:
        try:
            body = response.json()
        except ValueError:
            body = {}
    if isinstance(body, dict):
        for key in ("libelle", "error_description", "error", "message"):
            if body.get(key):
                return str(body[key])
    return response.reason_phrase or "erreur"
