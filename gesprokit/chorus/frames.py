"""Chorus Pro billing frames (cadres de facturation) and the billing files they form.

A billing file (dossier de facturation) is the chain of pieces of one payment: each actor
deposits its own piece and associates it to the previous one. This module holds the
frames, the sequences each kind of file follows, what a Chorus status means for the file
and for the payment deadline, and the tacit procedure's 10-day rule (CCAG 12.4.4). It is
pure: no database, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Frame:
    """One cadre de facturation: its API code, the role depositing it, its label."""

    code: str
    api: str
    role: str
    label: str


FRAMES = {f.code: f for f in (
    Frame("A1", "A1_FACTURE_FOURNISSEUR", "contractor", "facture du fournisseur"),
    Frame("A4", "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR", "contractor",
          "projet de décompte mensuel"),
    Frame("A7", "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR", "contractor", "projet de décompte final"),
    Frame("A8", "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR", "contractor",
          "décompte général définitif (DG signé)"),
    Frame("A9", "A9_FACTURE_SOUSTRAITANT", "subcontractor", "facture du sous-traitant"),
    Frame("A10", "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT", "subcontractor",
          "projet de décompte mensuel du sous-traitant"),
    Frame("A11", "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT", "subcontractor",
          "projet de décompte final du sous-traitant"),
    Frame("A12", "A12_FACTURE_COTRAITANT", "cocontractor", "facture du cotraitant"),
    Frame("A13", "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT", "cocontractor",
          "projet de décompte mensuel du cotraitant"),
    Frame("A14", "A14_PROJET_DECOMPTE_FINAL_COTRAITANT", "cocontractor",
          "projet de décompte final du cotraitant"),
    Frame("A15", "A15_ETAT_ACOMPTE_MOE", "moe", "état d'acompte du maître d'œuvre"),
    Frame("A17", "A17_PROJET_DECOMPTE_GENERAL_MOE", "moe", "projet de décompte général"),
    Frame("A19", "A19_ETAT_ACOMPTE_VALIDE_MOA", "moa", "état d'acompte validé"),
    Frame("A20", "A20_DECOMPTE_GENERAL_MOA", "moa", "décompte général"),
    Frame("A22", "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE", "contractor",
          "projet de décompte général (procédure tacite)"),
    Frame("A23", "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR", "contractor",
          "décompte général définitif tacite"),
)}

# The pieces each kind of file chains, as "after this frame (None: first), these may come".
# A subcontractor's or co-contractor's piece is validated by the titulaire (mandataire)
# before it reaches the MOE. At the end of the contract, when the MOA lets the 30 days of
# CCAG 12.4.2 go by, the titulaire notifies its own projet de décompte général (A22); the
# MOA then has 10 days to notify a décompte général (A20), otherwise A22 becomes the DGD
# (A23).
SEQUENCES: dict[str, dict[str | None, tuple[str, ...]]] = {
    "acompte": {None: ("A4",), "A4": ("A15",), "A15": ("A19",)},
    "final": {None: ("A7",), "A7": ("A17", "A22"), "A17": ("A20", "A22"), "A20": ("A8",),
              "A22": ("A20", "A23")},
    "acompte_sous_traitant": {None: ("A10",), "A10": ("A15",), "A15": ("A19",)},
    "final_sous_traitant": {None: ("A11",), "A11": ("A17",), "A17": ("A20",),
                            "A20": ("A8",)},
    "acompte_cotraitant": {None: ("A13",), "A13": ("A15",), "A15": ("A19",)},
    "final_cotraitant": {None: ("A14",), "A14": ("A17",), "A17": ("A20",), "A20": ("A8",)},
    "facture_sous_traitant": {None: ("A9",)},
    "facture_cotraitant": {None: ("A12",)},
}
FILE_LABELS = {
    "acompte": "acompte mensuel", "final": "décompte final et général",
    "acompte_sous_traitant": "acompte mensuel d'un sous-traitant",
    "final_sous_traitant": "décompte final d'un sous-traitant",
    "acompte_cotraitant": "acompte mensuel d'un cotraitant",
    "final_cotraitant": "décompte final d'un cotraitant",
    "facture_sous_traitant": "facture d'un sous-traitant",
    "facture_cotraitant": "facture d'un cotraitant",
}
# Frames whose piece the titulaire (mandataire) must validate first (valideur compulsory).
NEEDS_VALIDATOR = {"A9", "A10", "A11", "A12", "A13", "A14"}
SUBCONTRACTOR_VALIDATION_DAYS = 15  # the titulaire's delay to accept or refuse (A10)

TACIT_MOA_DAYS = 30  # CCAG 12.4.2: the MOA notifies the DG within 30 days of the PDF
TACIT_NOTICE_DAYS = 10  # CCAG 12.4.4: then 10 days after the titulaire's A22

# What a Chorus status means for the file and the payment deadline.
STOPPED = {"REJETEE", "REFUSEE_MOE", "REFUSEE_MOA", "REFUSEE_FOURNISSEUR", "REFUSEE_1",
           "REFUSEE_2", "ABANDONNEE", "SUPPRIMEE", "REMPLACEE_PAR_A22"}
SUSPENDED = {"SUSPENDUE", "A_COMPLETER"}
TO_RECYCLE = {"A_RECYCLER", "EN_ATTENTE_RECYCLAGE_FOURNISSEUR"}
PAID = {"MISE_EN_PAIEMENT"}
FINAL = STOPPED | PAID  # polling stops there
EFFECTS = {
    "arret": "dossier arrêté : un nouveau dépôt, sous un nouveau numéro, ouvre un nouveau délai",
    "suspension": "pièce suspendue, à compléter par son déposant ; le délai de paiement court "
                  "toujours : seul l'ordonnateur l'interrompt, une fois, avant son échéance "
                  "(R2192-27)",
    "recyclage": "données d'acheminement à corriger ; même numéro, le délai court toujours",
    "paiement": "mise en paiement : date de paiement du délai global",
}


# What a person reads for each status (the platform's codes are never shown).
STATUS_LABELS = {
    "DEPOSEE": "déposée", "MISE_A_DISPOSITION": "mise à disposition",
    "MISE_A_DISPOSITION_MOE": "mise à disposition du maître d'œuvre",
    "MISE_A_DISPOSITION_MOA": "mise à disposition du maître d'ouvrage",
    "EN_COURS_TRAITEMENT": "en cours de traitement", "SUSPENDUE": "suspendue",
    "A_COMPLETER": "à compléter", "COMPLETEE": "complétée", "REJETEE": "rejetée",
    "REFUSEE_MOE": "refusée par le maître d'œuvre",
    "REFUSEE_MOA": "refusée par le maître d'ouvrage",
    "REFUSEE_FOURNISSEUR": "refusée par le titulaire", "REFUSEE_1": "refusée",
    "REFUSEE_2": "refusée", "ABANDONNEE": "abandonnée", "SUPPRIMEE": "supprimée",
    "REMPLACEE_PAR_A22": "remplacée par le projet de décompte général du titulaire",
    "A_RECYCLER": "à recycler", "EN_ATTENTE_RECYCLAGE_FOURNISSEUR": "à recycler",
    "VALIDEE": "validée", "SERVICE_FAIT": "service fait", "MANDATEE": "mandatée",
    "COMPTABILISEE": "comptabilisée", "MISE_EN_PAIEMENT": "mise en paiement",
}


def status_label(status: str) -> str:
    """A Chorus status as a person reads it (an unknown code: its words in lower case).

    >>> status_label("REFUSEE_MOA"), status_label("NOUVEAU_STATUT")
    ("refusée par le maître d'ouvrage", 'nouveau statut')
    """
    return STATUS_LABELS.get(status, str(status).replace("_", " ").lower())


def deadline_effect(status: str) -> str | None:
    """The effect of a Chorus status on the file and its payment deadline (a key of
    :data:`EFFECTS`), or None when it has none.

    >>> deadline_effect("SUSPENDUE"), deadline_effect("MISE_A_DISPOSITION")
    ('suspension', None)
    """
    if status in STOPPED:
        return "arret"
    if status in SUSPENDED:
        return "suspension"
    if status in TO_RECYCLE:
        return "recyclage"
    if status in PAID:
        return "paiement"
    return None


@dataclass(frozen=True)
class Piece:
    """A piece already in a file: its frame, current status and deposit date."""

    frame: str
    status: str
    deposited_at: datetime


def live_pieces(pieces: list[Piece]) -> list[Piece]:
    """The pieces of the file as it stands: a refusal stops the file, so everything up to
    and including the last stopped piece no longer counts."""
    last_stop = max((i for i, p in enumerate(pieces) if p.status in STOPPED), default=-1)
    return pieces[last_stop + 1:]


def next_frames(kind: str, pieces: list[Piece]) -> tuple[str, ...]:
    """The frames the file accepts next (empty when it is complete)."""
    live = live_pieces(pieces)
    return SEQUENCES[kind].get(live[-1].frame if live else None, ())


def frames_in(kind: str) -> list[str]:
    """Every frame a kind of file may hold, in circuit order."""
    seen: dict[str, None] = {}
    for after in SEQUENCES[kind].values():
        seen.update(dict.fromkeys(after))
    return list(seen)


def frame_problems(kind: str, frame: str, role: str, pieces: list[Piece],
                   on: date | None = None) -> list[str]:
    """Why depositing `frame` as `role` on day `on` does not fit the file's circuit
    ([] when it does)."""
    if kind not in SEQUENCES:
        return [f"type de dossier « {kind} » inconnu"]
    if frame not in FRAMES:
        return [f"cadre de facturation « {frame} » inconnu"]
    problems = []
    expected = next_frames(kind, pieces)
    if frame not in frames_in(kind):
        problems.append(f"cadre {frame} ({FRAMES[frame].label}) hors du circuit « "
                        f"{FILE_LABELS[kind]} »")
    elif not expected:
        problems.append("dossier de facturation déjà complet")
    elif frame not in expected:
        wanted = " ou ".join(f"{f} ({FRAMES[f].label})" for f in expected)
        problems.append(f"cadre {frame} déposé hors de son tour : le dossier attend {wanted}")
    if FRAMES[frame].role != role:
        from gesprokit.circuit import ROLE_LABELS

        problems.append(f"le cadre {frame} se dépose par le rôle « "
                        f"{ROLE_LABELS.get(FRAMES[frame].role, FRAMES[frame].role)} », pas « "
                        f"{ROLE_LABELS.get(role, role)} »")
    if frame in expected and on is not None:
        problems += _tacit_problems(frame, live_pieces(pieces), on)
    return problems


def _tacit_problems(frame: str, pieces: list[Piece], on: date) -> list[str]:
    """The dates of the tacit procedure (CCAG 12.4.4)."""
    by_frame = {p.frame: p for p in pieces}
    if frame == "A22":
        opens = tacit_opens_on(by_frame["A7"].deposited_at)
        if on < opens:
            return [f"procédure tacite prématurée : le maître d'ouvrage a jusqu'au "
                    f"{opens - timedelta(days=1):%d/%m/%Y} pour notifier le décompte général"]
    if frame == "A23":
        becomes = tacit_dgd_on(by_frame["A22"].deposited_at)
        if on < becomes:
            return [f"le projet de décompte général ne devient définitif que le "
                    f"{becomes:%d/%m/%Y} (10 jours après sa notification)"]
    if frame == "A20" and "A22" in by_frame:
        becomes = tacit_dgd_on(by_frame["A22"].deposited_at)
        if on >= becomes:
            return [f"décompte général tardif : le projet du titulaire est devenu le décompte "
                    f"général définitif le {becomes:%d/%m/%Y}"]
    return []


def tacit_opens_on(final_project_at: datetime) -> date:
    """First day the titulaire may notify its projet de décompte général (A22): the MOA has
    let the 30 days after it received the projet de décompte final (A7) go by."""
    return final_project_at.date() + timedelta(days=TACIT_MOA_DAYS + 1)


def tacit_dgd_on(tacit_project_at: datetime) -> date:
    """The day the titulaire's A22 becomes the DGD if the MOA has notified no décompte
    général within 10 days; the solde's payment deadline starts that day."""
    return tacit_project_at.date() + timedelta(days=TACIT_NOTICE_DAYS + 1)


def validation_due_on(deposited_at: datetime) -> date:
    """Last day the titulaire may accept or refuse a subcontractor's monthly demand."""
    return deposited_at.date() + timedelta(days=SUBCONTRACTOR_VALIDATION_DAYS)
