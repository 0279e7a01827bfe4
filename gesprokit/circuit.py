"""The situation circuit (PROFI): states, and which role may do which action from where.

This table is the only place the circuit is defined: the workflow actions,
the importer (which turns dated steps into events) and the dashboards (which
ask whether a button is allowed) all read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

STATES = ("draft", "submitted", "verified", "issued", "accepted", "validated", "paid")
STATE_LABELS = {"draft": "brouillon", "submitted": "transmise", "verified": "vérifiée",
                "issued": "état d'acompte émis", "accepted": "acceptée par l'AMO",
                "validated": "validée par le MOA", "paid": "payée"}
OPEN_STATES = ("submitted", "verified", "issued", "accepted")  # the deadline may be interrupted


@dataclass(frozen=True)
class Transition:
    """An action on a situation: who does it, from which states, to which state, and the
    situation column that keeps its date (None: no dated step)."""

    action: str
    role: str
    from_states: tuple[str, ...]
    to_state: str | None  # None: the state does not change
    stamp: str | None
    label: str


TRANSITIONS = {t.action: t for t in (
    Transition("enter_progress", "contractor", ("draft",), None, None,
               "saisir l'avancement"),
    Transition("submit", "contractor", ("draft",), "submitted", "submitted_at",
               "valider et transmettre le projet de décompte"),
    Transition("verify", "verifier", ("submitted",), "verified", "verified_at",
               "vérifier l'avancement"),
    Transition("issue", "moe", ("verified",), "issued", "moe_at",
               "émettre l'état d'acompte"),
    Transition("accept", "amo", ("issued",), "accepted", "amo_at", "accepter"),
    Transition("return", "amo", ("issued",), "verified", None, "retourner au maître d'œuvre"),
    Transition("validate", "moa", ("accepted",), "validated", "moa_at",
               "valider l'état d'acompte"),
    Transition("interrupt", "moa", OPEN_STATES, None, "interrupted_at",
               "interrompre le délai de paiement"),
    Transition("resume", "moa", OPEN_STATES, None, "resumed_at",
               "reprendre le délai de paiement"),
    Transition("pay", "treasury", ("validated",), "paid", "paid_at", "mettre en paiement"),
)}
# Dated steps in circuit order, as the import format and the delays read them.
STEPS = ("submitted_at", "verified_at", "moe_at", "amo_at", "moa_at", "paid_at")
STEP_ACTIONS = {t.stamp: t for t in TRANSITIONS.values() if t.stamp}
STATUS_OF_STEP = {t.stamp: t.to_state for t in TRANSITIONS.values()
                  if t.stamp in STEPS}

# Reasons an AMO may return a situation to the MOE. An amount disagreement is not one:
# since 19 Feb 2025 the MOE corrects the amount instead (DOMAIN Part A).
RETURN_REASONS = {
    "PIECE_MANQUANTE": "pièce justificative manquante",
    "SOUS_TRAITANT": "déclaration de sous-traitant ou paiement direct à régulariser",
    "GARANTIE": "garantie ou retenue de garantie à régulariser",
    "REFERENCES": "références du marché, SIRET ou engagement juridique erronés",
    "AVENANT": "avenant non notifié ou prix nouveaux non arrêtés",
}
AMOUNT_REASON = "MONTANT"


def status_after_steps(stamps: dict) -> str:
    """The state a situation is in once the given dated steps are done."""
    status = "draft"
    for step in STEPS:
        if stamps.get(step) is not None:
            status = STATUS_OF_STEP[step]
    return status

ROLE_LABELS = {"contractor": "Entreprise titulaire", "cocontractor": "Cotraitant",
               "subcontractor": "Sous-traitant", "verifier": "OPC / BET",
               "moe": "Maître d'œuvre", "amo": "AMO", "moa": "Maître d'ouvrage",
               "treasury": "Comptable", "auditor": "Auditeur", "admin": "Administrateur"}


def role_label(role: str, after: str | None = None) -> str:
    """The role as a person reads it; an MOA acting under a mandate (its event's ``after``
    names the mandate, gesprokit.mandates) reads as the owner's mandataire."""
    label = ROLE_LABELS.get(role, role)
    if isinstance(after, str) and '"mandate"' in after:
        try:
            mandate = json.loads(after).get("mandate") or {}
        except ValueError:
            return label
        if mandate.get("reference"):
            return f"{label} – mandataire ({mandate['reference']})"
    return label

# What every journal action is called on pages, in PDFs and in the workbook
ACTION_LABELS = {
    **{a: t.label for a, t in TRANSITIONS.items()},
    "create": "ouvrir la situation", "import": "reprise des données",
    "record_guarantee": "enregistrer une garantie",
    "declare_subcontract": "déclarer un sous-traitant", "create_user": "créer un compte",
    "deposit": "déposer un document", "new_version": "déposer un nouvel indice",
    "visa": "donner un visa", "acknowledge": "accuser réception",
    "remind_readers": "relancer les lecteurs", "chorus_deposit": "déposer dans Chorus Pro",
    "chorus_status": "statut Chorus Pro",
    "chorus_receive": "refuser ou suspendre une pièce reçue dans Chorus Pro",
    "chorus_complete": "compléter une pièce suspendue dans Chorus Pro",
    "chorus_structure": "structure Chorus Pro",
    "open_journal": "ouverture du journal", "grant": "accorder une opération",
    "revoke": "retirer une opération", "disable_user": "désactiver un compte",
    "enable_user": "réactiver un compte", "reset_password": "réinitialiser un mot de passe",
    "set_password": "changer son mot de passe",
    "rehash_password": "renforcer l'empreinte du mot de passe",
    "pay_advance": "payer l'avance", "index_import": "publier des index",
    "ecb_import": "publier des taux de la BCE",
    "request_direct_payment": "demander un paiement direct",
    "decide_direct_payment": "accepter ou refuser un paiement direct",
    "pay_direct_payment": "payer un sous-traitant", "pay_subcontract_advance":
    "payer l'avance d'un sous-traitant",
    "record_reception": "prononcer la réception", "lift_reserves": "lever les réserves",
    "extend_guarantee": "prolonger le délai de garantie",
    "submit_final": "transmettre le projet de décompte final",
    "settle_final": "établir le décompte final", "sign_general": "signer le décompte général",
    "answer_general": "signer le décompte général (titulaire)",
    "notify_tacit": "notifier le projet de décompte général (procédure tacite)",
    "pay_solde": "payer le solde", "release_retention": "rembourser la retenue de garantie",
    "release_guarantee": "libérer la caution ou la garantie à première demande",
    "notify_final_revision": "notifier la révision du solde",
    "document": "établir le PDF de l'étape",
    "update_profile": "mettre à jour le profil de l'entreprise",
    "post_message": "écrire un message",
    "post_document_message": "écrire un message sur un document",
    "grant_mandate": "confier un mandat de maîtrise d'ouvrage",
    "revoke_mandate": "retirer un mandat de maîtrise d'ouvrage",
}
