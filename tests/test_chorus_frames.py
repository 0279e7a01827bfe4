"""Billing frames: each file's sequence, refusal/suspension/recycling, the tacit procedure's
dates, structures and the pre-deposit checker (pure functions, no database)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gesprokit.chorus.checker import Amounts, AttachedFile, DepositDraft, check_deposit
from gesprokit.chorus.frames import (
    Piece,
    deadline_effect,
    frame_problems,
    next_frames,
    tacit_dgd_on,
    tacit_opens_on,
    validation_due_on,
)
from gesprokit.chorus.structures import (
    Structure,
    reference_problems,
    role_problems,
    siret_problem,
)

D = datetime(2026, 3, 2, 10, 0)


def piece(frame: str, status: str = "MISE_A_DISPOSITION", when: datetime = D) -> Piece:
    return Piece(frame, status, when)


def walk(kind: str, steps: list[tuple[str, str]]) -> list[Piece]:
    """Deposit `steps` (frame, role) in turn, asserting each one fits the circuit."""
    pieces: list[Piece] = []
    for frame, role in steps:
        assert frame_problems(kind, frame, role, pieces) == [], (frame, pieces)
        pieces.append(piece(frame))
    return pieces


def test_monthly_file_is_a4_then_a15_then_a19():
    pieces = walk("acompte", [("A4", "contractor"), ("A15", "moe"), ("A19", "moa")])
    assert next_frames("acompte", pieces) == ()
    assert frame_problems("acompte", "A19", "moa", pieces) == ["dossier de facturation déjà "
                                                                "complet"]


def test_final_file_and_its_dgd():
    pieces = walk("final", [("A7", "contractor"), ("A17", "moe"), ("A20", "moa"),
                            ("A8", "contractor")])
    assert next_frames("final", pieces) == ()


def test_subcontractor_and_cocontractor_files():
    walk("acompte_sous_traitant", [("A10", "subcontractor"), ("A15", "moe"), ("A19", "moa")])
    walk("acompte_cotraitant", [("A13", "cocontractor"), ("A15", "moe"), ("A19", "moa")])
    walk("final_sous_traitant", [("A11", "subcontractor"), ("A17", "moe"), ("A20", "moa"),
                                 ("A8", "contractor")])
    walk("final_cotraitant", [("A14", "cocontractor"), ("A17", "moe"), ("A20", "moa"),
                              ("A8", "contractor")])
    walk("facture_sous_traitant", [("A9", "subcontractor")])
    walk("facture_cotraitant", [("A12", "cocontractor")])
    # the titulaire has 15 days to accept or refuse a subcontractor's monthly demand
    assert validation_due_on(datetime(2026, 3, 20, 9)) == date(2026, 4, 4)


def test_wrong_frame_order_role_or_circuit_is_reported():
    a4 = [piece("A4")]
    assert frame_problems("acompte", "A19", "moa", a4) == [
        "cadre A19 déposé hors de son tour : le dossier attend A15 (état d'acompte du maître "
        "d'œuvre)"]
    assert frame_problems("acompte", "A15", "contractor", a4) == [
        "le cadre A15 se dépose par le rôle « Maître d'œuvre », pas « Entreprise titulaire »"]
    problems = frame_problems("acompte", "A7", "contractor", a4)
    assert problems[0].startswith("cadre A7 (projet de décompte final) hors du circuit")
    # a subcontractor's monthly demand does not go in the titulaire's file
    assert "hors du circuit" in frame_problems("acompte", "A10", "subcontractor", [])[0]


def test_a_refusal_stops_the_file_and_a_new_deposit_starts_over():
    refused = [piece("A4"), piece("A15", "REFUSEE_MOA")]
    assert next_frames("acompte", refused) == ("A4",)
    assert frame_problems("acompte", "A19", "moa", refused)[0].startswith(
        "cadre A19 déposé hors de son tour : le dossier attend A4")
    # suspension and recycling keep the file going: the same piece is completed/re-routed
    assert next_frames("acompte", [piece("A4", "SUSPENDUE")]) == ("A15",)
    assert next_frames("acompte", [piece("A4", "A_RECYCLER")]) == ("A15",)


def test_status_effects_on_the_payment_deadline():
    assert [deadline_effect(s) for s in ("REJETEE", "REFUSEE_MOE", "SUSPENDUE", "A_RECYCLER",
                                         "MISE_EN_PAIEMENT", "COMPLETEE", "DEPOSEE")] == [
        "arret", "arret", "suspension", "recyclage", "paiement", None, None]


def test_tacit_procedure_dates():
    a7_at = datetime(2026, 3, 2, 16, 30)
    # the MOA has until the 30th day after the projet de décompte final
    assert tacit_opens_on(a7_at) == date(2026, 4, 2)
    a7 = [Piece("A7", "MISE_A_DISPOSITION", a7_at)]
    too_early = frame_problems("final", "A22", "contractor", a7, on=date(2026, 4, 1))
    assert too_early == ["procédure tacite prématurée : le maître d'ouvrage a jusqu'au "
                         "01/04/2026 pour notifier le décompte général"]
    assert frame_problems("final", "A22", "contractor", a7, on=date(2026, 4, 2)) == []

    a22_at = datetime(2026, 4, 3, 11, 0)
    pieces = [*a7, Piece("A22", "MISE_A_DISPOSITION", a22_at)]
    # 10 days for the MOA (4 → 13 April); the DGD and the solde's deadline start the 14th
    assert tacit_dgd_on(a22_at) == date(2026, 4, 14)
    assert frame_problems("final", "A23", "contractor", pieces, on=date(2026, 4, 13)) == [
        "le projet de décompte général ne devient définitif que le 14/04/2026 (10 jours "
        "après sa notification)"]
    assert frame_problems("final", "A23", "contractor", pieces, on=date(2026, 4, 14)) == []
    # the MOA may still answer within the 10 days, not after
    assert frame_problems("final", "A20", "moa", pieces, on=date(2026, 4, 13)) == []
    assert "décompte général tardif" in frame_problems("final", "A20", "moa", pieces,
                                                       on=date(2026, 4, 14))[0]
    # the MOE's A17 does not prevent the tacit route once the MOA is late
    with_a17 = [*a7, Piece("A17", "MISE_A_DISPOSITION", datetime(2026, 3, 20))]
    assert frame_problems("final", "A22", "contractor", with_a17, on=date(2026, 4, 2)) == []


# --- structures ---------------------------------------------------------------------------

HOSPITAL = Structure("26420017100173", "CH de Montbrison", "avec_moa",
                     service_or_engagement=True, services=frozenset({"DIR-TRAVAUX"}))


def test_siret_uses_luhn_and_the_la_poste_exception():
    assert siret_problem("26420017100173", "du MOA") is None
    assert siret_problem("26420017100174", "du MOA") == (
        "SIRET du MOA invalide « 26420017100174 » (14 chiffres, clé de Luhn)")
    # a La Poste establishment: not Luhn-valid, digits sum to a multiple of 5
    assert siret_problem("35600000012341", "du titulaire") is None  # 3+5+6+1+2+3+4+1 = 25
    assert siret_problem("35600000012345", "du titulaire") is not None  # 29
    assert siret_problem("", "du titulaire") == "SIRET du titulaire manquant"


@pytest.mark.parametrize(("flags", "service", "engagement", "expected"), [
    ({"service_required": True}, None, "EJ1", ["code service obligatoire pour S"]),
    ({"engagement_required": True}, "SRV", None,
     ["numéro d'engagement juridique obligatoire pour S"]),
    ({"service_or_engagement": True}, None, None,
     ["S exige un code service ou un numéro d'engagement juridique"]),
    ({"service_or_engagement": True}, None, "EJ1", []),
    ({}, "AUTRE", None, ["code service « AUTRE » inconnu ou inactif chez S (services : SRV)"]),
    ({}, None, "E" * 51, ["numéro d'engagement juridique trop long (51 caractères, 50 au plus)"]),
])
def test_references_required_by_the_structure(flags, service, engagement, expected):
    structure = Structure("26420017100173", "S", "avec_moa", services=frozenset({"SRV"}),
                          **flags)
    assert reference_problems(structure, service, engagement) == expected


def test_moa_mode_decides_who_validates_and_who_pays():
    only_moa = Structure("26420017100173", "Mairie", "exclusivement_moa")
    no_moa = Structure("26420017100173", "Trésorerie", "sans_moa")
    assert role_problems(HOSPITAL, HOSPITAL) == []
    assert role_problems(only_moa, no_moa) == []
    assert role_problems(no_moa, only_moa) == [
        "Trésorerie est paramétrée « sans MOA » : elle ne peut pas valider d'état d'acompte en "
        "maître d'ouvrage",
        "Mairie est paramétrée « exclusivement MOA » : elle ne peut pas être le service "
        "financier destinataire du paiement"]


# --- the checker --------------------------------------------------------------------------

def good_draft(**over) -> DepositDraft:
    values = dict(
        kind="acompte", frame="A19", role="moa", number="EA-L05-07",
        supplier_siret="40005037350379", depositor_siret="26420017100173", moa=HOSPITAL,
        payer=HOSPITAL, service_code="DIR-TRAVAUX", engagement_number="EJ2025-0005",
        market_number="2025-CHMV-L05", amounts=Amounts(150_000, 30_000, 180_000, 180_000),
        expected=Amounts(150_000, 30_000, 180_000, 180_000),
        expected_source="de l'état d'acompte validé",
        attachments=(AttachedFile("valide-CHMV-EHPAD-L05-n7.pdf", 40_000),),
        pieces=(piece("A4"), piece("A15")), used_numbers=frozenset({"EA-L05-06"}),
        on=date(2026, 7, 12))
    values.update(over)
    return DepositDraft(**values)


def test_a_good_draft_has_no_problem():
    assert check_deposit(good_draft()) == []


def test_every_problem_of_a_bad_draft_is_reported_at_once():
    mb = 1024 * 1024
    draft = good_draft(
        frame="A19", pieces=(piece("A4"),),  # the MOE's état is missing
        supplier_siret="40005037350378", service_code=None, engagement_number=None,
        market_number="", number="EA-L05-06",
        amounts=Amounts(150_000, 30_000, 180_001, 170_000),
        attachments=(AttachedFile("valide.pdf", 9 * mb),
                     AttachedFile("constat-contradictoire-de-fin-de-chantier-lot-05-v2.pdf",
                                  mb),
                     AttachedFile("photos.heic", 2 * mb),
                     AttachedFile("plans.zip", 10 * mb),
                     *[AttachedFile(f"annexe-{i}.pdf", 9 * mb) for i in range(12)]))
    problems = check_deposit(draft)
    assert problems == [
        "cadre A19 déposé hors de son tour : le dossier attend A15 (état d'acompte du maître "
        "d'œuvre)",
        "SIRET du titulaire invalide « 40005037350378 » (14 chiffres, clé de Luhn)",
        "CH de Montbrison exige un code service ou un numéro d'engagement juridique",
        "numéro de marché manquant",
        "numéro « EA-L05-06 » déjà utilisé par ce déposant (un numéro par pièce et par "
        "fournisseur)",
        "montants incohérents : HT 1\u202f500,00\xa0€ + TVA 300,00\xa0€ ≠ TTC "
        "1\u202f800,01\xa0€",
        "montant TTC 1\u202f800,01\xa0€ différent de celui de l'état d'acompte validé "
        "(1\u202f800,00\xa0€)",
        "montant net à payer 1\u202f700,00\xa0€ différent de celui de l'état d'acompte validé "
        "(1\u202f800,00\xa0€)",
        "nom de pièce jointe trop long « constat-contradictoire-de-fin-de-chantier-lot-05-v2.pdf"
        " » (55 caractères, 50 au plus)",
        f"extension non admise pour « photos.heic » (admises : {_allowed()})",
        "« plans.zip » pèse 10,0 Mo (moins de 10 Mo par fichier)",
        # 9 + 1 + 2 + 10 + 12 × 9 = 130 Mo
        "pièces jointes : 130,0 Mo au total (120 Mo au plus)",
    ]


def _allowed() -> str:
    from gesprokit.chorus.checker import ALLOWED_EXTENSIONS
    return ", ".join(sorted(ALLOWED_EXTENSIONS))


def test_number_rules_and_main_piece():
    assert check_deposit(good_draft(number="N" * 21)) == [
        f"numéro « {'N' * 21} » trop long (21 caractères, 20 au plus)"]
    assert check_deposit(good_draft(attachments=())) == [
        "pièce principale (PDF du document transmis) manquante"]
    assert check_deposit(good_draft(attachments=(AttachedFile("etat.xlsx", 10),))) == [
        "la pièce principale « etat.xlsx » doit être un PDF"]
