"""A local stand-in for PISTE and Chorus Pro, built from the API's specification.

The real service cannot be reached from a test machine, so the client is exercised against
this server on 127.0.0.1: the same paths, request and answer shapes as the specification's
examples (the status history under ``historiquesDesStatuts.histoStatut``, "no result"
searches answered HTTP 200 with ``codeRetour`` 20000/20007), one technical account per
structure, and the behaviours the client must cope with: token expiry (401), a wrong
technical account (403), a duplicate number for a supplier, attachment limits, transient
503s, a deposit done whose answer is lost. What the specification leaves unconfirmed (the
duplicate number's code, the works deposit's answer) is this server's choice, listed in
docs/chorus.md. It also serves demonstrations (``gesprokit chorus serve-local``).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from gesprokit.chorus.frames import FRAMES

DUPLICATE_CODE, DUPLICATE_LABEL = 20001, "GCU_MSG_05_000 : numéro de facture déjà utilisé"
MAX_FILE_BYTES = 10 * 1024 * 1024
API_FRAMES = {f.api for f in FRAMES.values()}


@dataclass
class Invoice:
    invoice_id: int
    number: str
    supplier_id: int
    frame: str
    payload: dict
    history: list[tuple[str, datetime]] = field(default_factory=list)
    comments: dict[int, str] = field(default_factory=dict)  # history index -> comment


@dataclass
class State:
    """What the server knows: accounts, structures, tokens, files and invoices."""

    client_id: str = "gesprokit-client"
    client_secret: str = "s3cret-client"
    login: str = "TECH_gesprokit@cpro.fr"
    password: str = "Tech-P4ssword!"
    token_lifetime_s: int = 3600
    structures: dict[str, dict] = field(default_factory=dict)  # SIRET -> structure
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    files: dict[int, dict] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)  # HTTP statuses to answer next
    accounts: dict[str, str] = field(default_factory=dict)  # "login:password" -> SIRET
    lost_answers: int = 0  # deposits done whose answer is then lost (connection dropped)
    calls: list[str] = field(default_factory=list)
    seen_headers: list[dict] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1001))
    clock: Callable[[], datetime] = datetime.now  # the platform's timestamps
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_structure(self, siret: str, name: str, *, service_required: bool = False,
                      engagement_required: bool = False, service_or_engagement: bool = False,
                      services: tuple[str, ...] = (), account: tuple[str, str] | None = None
                      ) -> int:
        """A structure, and its own technical account when given: a piece it deposits
        must then come through that account, with itself as the supplier."""
        structure_id = next(self.ids)
        if account is not None:
            self.accounts[":".join(account)] = siret
        self.structures[siret] = {
            "idStructureCPP": structure_id, "identifiantStructure": siret,
            "designationStructure": name, "typeIdentifiantStructure": "SIRET",
            "parametres": {"codeServiceDoitEtreRenseigne": service_required,
                           "numeroEJDoitEtreRenseigne": engagement_required,
                           "gestionNumeroEJOuCodeService": service_or_engagement},
            "services": [{"idService": next(self.ids), "codeService": code,
                          "libelleService": code, "estActif": True} for code in services]}
        return structure_id

    def set_status(self, invoice_id: int, status: str, at: datetime) -> None:
        """What the recipient's side does to an invoice (suspension, payment …)."""
        with self.lock:
            self.invoices[invoice_id].history.append((status, at))

    def expire_tokens(self) -> None:
        """Every issued token expires now (the client's next call gets a 401)."""
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def lose_next_answer(self) -> None:
        """The next deposit is done, and its answer lost (the connection drops)."""
        self.lost_answers += 1

    def fail_next(self, *statuses: int) -> None:
        """Answer the next calls with these HTTP statuses (e.g. 503) before serving again."""
        self.failures.extend(statuses)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    account_siret: str | None = None  # the structure whose technical account calls

    def log_message(self, *_args) -> None:  # requests carry credentials: never print them
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with state.lock:
            state.calls.append(self.path)
            state.seen_headers.append(dict(self.headers))
            failure = state.failures.pop(0) if state.failures else None
        if failure:
            return self._send(failure, {"error": "service indisponible"})
        if self.path == "/api/oauth/token":
            return self._token(parse_qs(raw.decode()))
        if not self.path.startswith("/cpro/"):
            return self._send(404, {"error": "inconnu"})
        if not self._authorised():
            return None
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, {"codeRetour": 1, "libelle": "JSON invalide"})
        handler = ROUTES.get(self.path[len("/cpro/"):])
        if handler is None:
            return self._send(404, {"codeRetour": 1, "libelle": "service inconnu"})
        payload["_account_siret"] = self.account_siret
        status, body = handler(state, payload)
        if self.path.endswith("/soumettre") and status == 200:
            with state.lock:
                lost, state.lost_answers = state.lost_answers > 0, max(
                    state.lost_answers - 1, 0)
            if lost:  # done, but the caller never hears it
                self.close_connection = True
                return None
        return self._send(status, body)

    def _token(self, form: dict) -> None:
        state = self.server.state
        get = {k: v[0] for k, v in form.items()}
        if get.get("grant_type") != "client_credentials":
            return self._send(400, {"error": "unsupported_grant_type"})
        if (get.get("client_id"), get.get("client_secret")) != (state.client_id,
                                                                state.client_secret):
            return self._send(401, {"error": "invalid_client",
                                    "error_description": "identifiants client inconnus"})
        token = secrets.token_urlsafe(24)
        with state.lock:
            state.tokens[token] = time.monotonic() + state.token_lifetime_s
        return self._send(200, {"access_token": token, "token_type": "Bearer",
                                "expires_in": state.token_lifetime_s, "scope": "openid"})

    def _authorised(self) -> bool:
        state = self.server.state
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if state.tokens.get(token, 0.0) <= time.monotonic():
            self._send(401, {"error": "invalid_token", "error_description": "jeton expiré"})
            return False
        try:
            account = base64.b64decode(self.headers.get("cpro-account", "")).decode()
        except ValueError:
            account = ""
        if account != f"{state.login}:{state.password}" and account not in state.accounts:
            self._send(403, {"codeRetour": 1, "libelle": "compte technique Chorus Pro invalide"})
            return False
        self.account_siret = state.accounts.get(account)
        return True


def _ok(**body) -> tuple[int, dict]:
    return 200, {"codeRetour": 0, "libelle": "TRA_MSG_00.000", **body}


def _refused(code: int, label: str, status: int = 400) -> tuple[int, dict]:
    return status, {"codeRetour": code, "libelle": label}


def _no_result(code: int, label: str) -> tuple[int, dict]:
    """A search that finds nothing: HTTP 200 with a non-zero return code."""
    return 200, {"codeRetour": code, "libelle": label}


def _find_structure(state: State, payload: dict) -> tuple[int, dict]:
    siret = (payload.get("structure") or {}).get("identifiantStructure")
    found = state.structures.get(siret)
    if not found:
        return _no_result(20000, "TRA_MSG_00.015 : la recherche n'a retourné aucun résultat")
    fields_ = ("idStructureCPP", "identifiantStructure", "designationStructure",
               "typeIdentifiantStructure")
    return _ok(listeStructures=[{k: found[k] for k in fields_}], parametresRetour={"total": 1})


def _by_id(state: State, structure_id) -> dict | None:
    return next((s for s in state.structures.values() if s["idStructureCPP"] == structure_id),
                None)


def _consult_structure(state: State, payload: dict) -> tuple[int, dict]:
    found = _by_id(state, payload.get("idStructureCPP"))
    if not found:
        return _refused(20000, "TRA_MSG_00.015 : structure inconnue")
    return _ok(idStructure=found["idStructureCPP"], parametres=found["parametres"])


def _services(state: State, payload: dict) -> tuple[int, dict]:
    found = _by_id(state, payload.get("idStructure"))
    if not found:
        return _refused(20000, "TRA_MSG_00.015 : structure inconnue")
    return _ok(listeServices=found["services"], total=len(found["services"]))


def _add_file(state: State, payload: dict) -> tuple[int, dict]:
    try:
        content = base64.b64decode(payload.get("pieceJointeFichier", ""), validate=True)
    except ValueError:
        return _refused(1, "pièce jointe : base64 invalide")
    name = payload.get("pieceJointeNom") or ""
    if not name or len(name) > 50:
        return _refused(1, "pièce jointe : nom absent ou de plus de 50 caractères")
    if len(content) >= MAX_FILE_BYTES:
        return _refused(1, "pièce jointe : 10 Mo au plus")
    with state.lock:
        file_id = next(state.ids)
        state.files[file_id] = {"name": name, "size": len(content)}
    return _ok(pieceJointeId=file_id)


def _submit(state: State, payload: dict) -> tuple[int, dict]:
    supplier = (payload.get("fournisseur") or {}).get("idFournisseur")
    recipient = (payload.get("destinataire") or {}).get("codeDestinataire")
    frame = (payload.get("cadreDeFacturation") or {}).get("codeCadreFacturation")
    number = payload.get("numeroFactureSaisi")
    missing = [name for name, value in (("fournisseur.idFournisseur", supplier),
                                        ("destinataire.codeDestinataire", recipient),
                                        ("cadreDeFacturation", frame),
                                        ("numeroFactureSaisi", number),
                                        ("montantTotal", payload.get("montantTotal")))
               if not value]
    if missing:
        return _refused(1, "champs obligatoires manquants : " + ", ".join(missing))
    if frame not in API_FRAMES:
        return _refused(1, f"cadre de facturation inconnu {frame}")
    if recipient not in state.structures:
        return _refused(1, f"destinataire {recipient} inconnu")
    attachments = payload.get("pieceJointePrincipale") or []
    if not attachments or any(a.get("pieceJointePrincipaleId") not in state.files
                              for a in attachments):
        return _refused(1, "pièce jointe principale absente ou inconnue")
    with state.lock:
        if any(i.supplier_id == supplier and i.number == number
               for i in state.invoices.values()):
            return _refused(DUPLICATE_CODE, DUPLICATE_LABEL)
        invoice_id = next(state.ids)
        now = state.clock().replace(microsecond=0)
        sent = {k: v for k, v in payload.items() if not k.startswith("_")}
        state.invoices[invoice_id] = Invoice(invoice_id, number, supplier, frame, sent,
                                             [("DEPOSEE", now)])
    return _ok(identifiantFactureCPP=invoice_id, numeroFacture=number,
               dateDepot=now.isoformat(), statutFacture="DEPOSEE")


def _history(state: State, payload: dict) -> tuple[int, dict]:
    """The status history as the API annex shows it: ``historiquesDesStatuts.histoStatut``
    with ``histoStatutCode`` and ``histoStatutDatePassage`` (AAAA-MM-JJ HH:MM), newest
    first, and the current status."""
    invoice = state.invoices.get(payload.get("idFacture"))
    if invoice is None:
        return _refused(20000, "TRA_MSG_00.015 : aucune facture")
    statuses = [{"histoStatutId": invoice.invoice_id * 100 + k, "histoStatutCode": s,
                 "histoStatutDatePassage": at.strftime("%Y-%m-%d %H:%M"),
                 "histoStatutCommentaire": invoice.comments.get(k)}
                for k, (s, at) in enumerate(invoice.history)][::-1]
    return _ok(idFacture=invoice.invoice_id, numeroFacture=invoice.number,
               modeDepot=invoice.payload.get("modeDepot"),
               statutCourantCode=invoice.history[-1][0],
               historiquesDesStatuts={"histoStatut": statuses,
                                      "nbResultatsParPageHistoStatut": len(statuses),
                                      "pageCouranteHistoStatut": 1, "pagesHistoStatut": 1,
                                      "totalHistoStatut": len(statuses)})


WORKS_TYPES = {"A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR": "PROJET_DECOMPTE_MENSUEL",
               "A15_ETAT_ACOMPTE_MOE": "ETAT_ACOMPTE",
               "A19_ETAT_ACOMPTE_VALIDE_MOA": "ETAT_ACOMPTE_VALIDE"}
ANSWERING = {"A15_ETAT_ACOMPTE_MOE", "A19_ETAT_ACOMPTE_VALIDE_MOA",
             "A17_PROJET_DECOMPTE_GENERAL_MOE", "A20_DECOMPTE_GENERAL_MOA"}


def _submit_works(state: State, payload: dict) -> tuple[int, dict]:
    """soumettreFactureTravaux: a works piece in the PDF deposit mode, by the structure whose
    technical account sends it, answering the previous piece of its file."""
    if payload.get("modeDepot") != "DEPOT_PDF_API" and not payload.get("lignePoste"):
        return _refused(1, "modeDepot SAISIE_API : lignes de poste et de TVA obligatoires ; "
                           "une pièce PDF se dépose en DEPOT_PDF_API")
    account = payload.get("_account_siret")
    supplier = (payload.get("fournisseur") or {}).get("idFournisseur")
    if account is not None and state.structures[account]["idStructureCPP"] != supplier:
        return _refused(1, "fournisseur : la structure du compte technique dépose en son nom")
    amounts = payload.get("montantTotal") or {}
    if any(isinstance(v, (int, float)) and v < 0 for v in amounts.values()):
        return _refused(1, "montants négatifs : un avoir se dépose en typeFacture AVOIR")
    frame = (payload.get("cadreDeFacturation") or {}).get("codeCadreFacturation")
    origin = (payload.get("references") or {}).get("numeroFactureOrigine")
    if frame in ANSWERING and not any(i.number == origin for i in state.invoices.values()):
        return _refused(1, f"numeroFactureOrigine « {origin} » : pièce précédente inconnue")
    status, body = _submit(state, payload)
    if status != 200:
        return status, body
    return _ok(idFactureTravaux=body["identifiantFactureCPP"],
               numeroFactureTravaux=body["numeroFacture"],
               dateDepot=body["dateDepot"][:10], statutFactureTravaux="DEPOSEE")


def _search_works(state: State, payload: dict) -> tuple[int, dict]:
    if payload.get("roleUtilisateur") not in ("FOURNISSEUR", "MOE", "MOA"):
        return _refused(1, "roleUtilisateur : FOURNISSEUR, MOE ou MOA")
    account = payload.get("_account_siret")
    mine = state.structures[account]["idStructureCPP"] if account else None
    number = payload.get("numeroFactureTravaux")
    found = [{"idFactureTravaux": i.invoice_id, "numeroFactureTravaux": i.number,
              "typeFactureTravaux": WORKS_TYPES.get(i.frame, i.frame),
              "statutFactureTravaux": i.history[-1][0],
              "dateDepot": i.history[0][1].strftime("%Y-%m-%d"),
              "montantHT": i.payload["montantTotal"].get("montantHtTotal"),
              "montantTTC": i.payload["montantTotal"].get("montantTtcAvantRemiseGlobalTTC"),
              "montantAPayer": i.payload["montantTotal"].get("montantAPayer")}
             for i in state.invoices.values()
             if (number is None or i.number == number)
             and (payload["roleUtilisateur"] != "FOURNISSEUR" or mine is None
                  or i.supplier_id == mine)]
    if not found:
        return _no_result(20007, "GFT_MSG_01.075 : la recherche n'a retourné aucun résultat")
    return _ok(listeFacturesTravaux=found, parametresRetour={"total": len(found),
                                                             "pageCourante": 1, "pages": 1})


TREATED = {("MOA", "REFUS"): "REFUSEE_MOA", ("MOE", "REFUS"): "REFUSEE_MOE",
           ("MOA", "SUSPENSION"): "SUSPENDUE", ("MOE", "SUSPENSION"): "SUSPENDUE"}
CLOSED = {"REFUSEE_MOA", "REFUSEE_MOE", "REJETEE", "MISE_EN_PAIEMENT", "ABANDONNEE"}


def _record(state: State, invoice: Invoice, status: str, comment: str) -> dict:
    now = state.clock().replace(microsecond=0)
    with state.lock:
        invoice.history.append((status, now))
        invoice.comments[len(invoice.history) - 1] = comment
    return {"idFactureTravaux": invoice.invoice_id, "numeroFactureTravaux": invoice.number,
            "statutFactureTravaux": status, "dateTraitement": now.strftime("%Y-%m-%d %H:%M")}


def _treat_works(state: State, payload: dict, role: str) -> tuple[int, dict]:
    """traiterFactureTravaux (MOE or MOA): the recipient refuses or suspends a piece it
    received, always with its reason; a piece already closed cannot be treated."""
    invoice = state.invoices.get(payload.get("idFactureTravaux"))
    if invoice is None:
        return _refused(20000, "TRA_MSG_00.015 : aucune facture")
    account = payload.get("_account_siret")
    if account is not None and state.structures[account]["idStructureCPP"] == \
            invoice.supplier_id:
        return _refused(1, "le déposant ne traite pas sa propre pièce")
    status = TREATED.get((role, payload.get("action")))
    if status is None:
        return _refused(1, "action : REFUS ou SUSPENSION")
    if not str(payload.get("motif") or "").strip():
        return _refused(1, "motif obligatoire pour un refus ou une suspension")
    current = invoice.history[-1][0]
    if current in CLOSED or (status == "SUSPENDUE" and current == "SUSPENDUE"):
        return _refused(1, f"statut {current} : la pièce ne peut plus être traitée ainsi")
    comment = f"{payload['motif']} : {payload.get('commentaire') or ''}".strip(" :")
    return _ok(**_record(state, invoice, status, comment))


def _complete_works(state: State, payload: dict) -> tuple[int, dict]:
    """completerFactureTravaux: the depositor completes a suspended piece."""
    invoice = state.invoices.get(payload.get("idFactureTravaux"))
    if invoice is None:
        return _refused(20000, "TRA_MSG_00.015 : aucune facture")
    account = payload.get("_account_siret")
    if account is not None and state.structures[account]["idStructureCPP"] != \
            invoice.supplier_id:
        return _refused(1, "seul le déposant complète sa pièce")
    if invoice.history[-1][0] != "SUSPENDUE":
        return _refused(1, "seule une pièce suspendue se complète")
    if any(i not in state.files for i in payload.get("idsPiecesJointes") or []):
        return _refused(1, "pièce jointe inconnue")
    return _ok(**_record(state, invoice, "COMPLETEE", str(payload.get("commentaire") or "")))


ROUTES = {
    "structures/v1/rechercher": _find_structure,
    "structures/v1/consulter": _consult_structure,
    "structures/v1/rechercher/services": _services,
    "transverses/v1/ajouter/fichier": _add_file,
    "factures/v1/soumettre": _submit,
    "facturesTravaux/v1/soumettre": _submit_works,
    "factures/v1/consulter/historique": _history,
    "facturesTravaux/v1/rechercher": _search_works,
    "facturesTravaux/v1/traiter/moa": lambda state, p: _treat_works(state, p, "MOA"),
    "facturesTravaux/v1/traiter/moe": lambda state, p: _treat_works(state, p, "MOE"),
    "facturesTravaux/v1/completer": _complete_works,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, state: State):
        super().__init__(address, _Handler)
        self.state = state


class ContractServer:
    """Run the contract server on 127.0.0.1 (a free port by default) in a thread."""

    def __init__(self, state: State | None = None, port: int = 0):
        self.state = state or State()
        self._server = _Server(("127.0.0.1", port), self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/api/oauth/token"

    def __enter__(self) -> ContractServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
