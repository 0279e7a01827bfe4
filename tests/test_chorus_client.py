"""The PISTE client and the billing file of a real month, against the contract server on
127.0.0.1: deposit → status → paid, token expiry, duplicate numbers, retries, secrets."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from gesprokit import workflow
from gesprokit.chorus import billing
from gesprokit.chorus.billing import DepositRejected
from gesprokit.chorus.contract_server import DUPLICATE_CODE, ContractServer, State
from gesprokit.chorus.piste import ChorusError, ChorusUnavailable, PisteClient, PisteConfig
from gesprokit.delays import compute_delays
from gesprokit.ledger import ledger_from_frames
from gesprokit.money import format_eur
from gesprokit.store import load_frames
from gesprokit.workflow import Actor

L05 = "CHMV-EHPAD-L05"  # all lines at 100 % (677 460,00 € HT), a GAPD replaces the retention
HOSPITAL = "26420017100173"
MAL = "40005037350379"
CONTRACTOR = Actor("alu@mal.fr", "contractor", "MAL")
MOE = Actor("archi@arc.fr", "moe", "ARC")
MOA = Actor("direction@ch.fr", "moa", "CHMV")
BONUS = 150_000  # 1 500,00 € HT prime, the month's only amount


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 7, day, hour, 0)


CLOCK = [at(12, 14)]  # the contract server's clock (deposit timestamps)


ARC = "40014037240374"  # the MOE's structure
# each structure's own Chorus Pro technical account (login, password)
ACCOUNTS = {HOSPITAL: ("TECH_chmv@cpro.fr", "Chmv-T3ch!"),
            MAL: ("TECH_mal@cpro.fr", "Mal-T3ch!"), ARC: ("TECH_arc@cpro.fr", "Arc-T3ch!")}


@pytest.fixture
def server():
    CLOCK[0] = at(12, 14)
    state = State(clock=lambda: CLOCK[0])
    state.add_structure(HOSPITAL, "Centre hospitalier de Montbrison-les-Vignes",
                        service_or_engagement=True, services=("DIR-TRAVAUX",),
                        account=ACCOUNTS[HOSPITAL])
    state.add_structure(MAL, "Menuiseries Alu Lyonnaises", account=ACCOUNTS[MAL])
    state.add_structure(ARC, "Atelier Rhodanien de Construction", account=ACCOUNTS[ARC])
    with ContractServer(state) as running:
        yield running


def config_for(server: ContractServer, **over) -> PisteConfig:
    values = dict(client_id=server.state.client_id, client_secret=server.state.client_secret,
                  login=server.state.login, password=server.state.password,
                  oauth_url=server.token_url, api_url=server.url, backoff_s=0.01,
                  accounts=ACCOUNTS)
    values.update(over)
    return PisteConfig(**values)


@pytest.fixture
def client(server):
    with PisteClient(config_for(server)) as c:
        yield c


@pytest.fixture
def engine(sample_engine):
    """The sample with its titulaires' profiles (MAL's bank details among them)."""
    from gesprokit.sample_operation import seed_demo_profiles

    seed_demo_profiles(sample_engine)
    return sample_engine


def test_the_titulaire_deposits_only_with_its_bank_details(sample_engine):
    """MAL's profile has no IBAN yet: its A4 check says what to fill in and where; once its
    profile holds IBAN and BIC the problem is gone."""
    from gesprokit.company_profile import update_profile

    workflow.create_situation(sample_engine, CONTRACTOR, L05, "2026-06", now=at(1, 8))
    workflow.submit(sample_engine, CONTRACTOR, L05, 7, now=at(1))
    missing = [p for p in billing.check(sample_engine, CONTRACTOR, L05, "A4", "PD-L05-07", n=7)
               if "coordonnées bancaires" in p]
    assert missing == ["coordonnées bancaires de votre entreprise absentes : renseignez l'IBAN "
                       "et le BIC dans « Mon profil » (le paiement se fait par virement)"]
    update_profile(sample_engine, CONTRACTOR, {"iban": "FR7630004008200001234567864",
                                               "bic": "BNPAFRPP"}, now=at(1, 9))
    assert not [p for p in billing.check(sample_engine, CONTRACTOR, L05, "A4", "PD-L05-07",
                                         n=7) if "coordonnées bancaires" in p]


def month_with_bonus(engine, validate: bool = True) -> None:
    """Situation 7 of L05: no progress left, the MOE grants a 1 500 € bonus."""
    workflow.create_situation(engine, CONTRACTOR, L05, "2026-06", now=at(1, 8))
    workflow.submit(engine, CONTRACTOR, L05, 7, now=at(1))
    workflow.verify(engine, Actor("opc@opc.fr", "verifier", "OPC"), L05, 7, now=at(3))
    workflow.issue(engine, MOE, L05, 7, now=at(5), adjustments=[
        {"kind": "bonus", "amount_cents": BONUS, "reason": "Prime de fin de chantier anticipée"}])
    workflow.accept(engine, Actor("amo@amo.fr", "amo", "AMO"), L05, 7, now=at(8))
    if validate:
        workflow.validate(engine, MOA, L05, 7, now=at(12))


def test_monthly_file_deposit_status_and_payment(engine, server, client):
    month_with_bonus(engine)
    # firm price, VAT 20 %, no advance: the bonus alone, 1 800,00 € TTC. The GAPD
    # (6 % × 677 460 € = 40 647,60 €) covered 5 % of the works' 812 952 € TTC exactly; 5 % of
    # the bonus's TTC (90 €) is beyond it and withheld.
    bonus_month = billing.Amounts(ht=BONUS, vat=BONUS // 5, ttc=BONUS * 6 // 5,
                                  to_pay=BONUS * 6 // 5 - 9_000)
    billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7, now=at(12, 14))
    billing.deposit(engine, client, MOE, L05, "A15", "EA-L05-07", n=7, now=at(12, 15))
    result = billing.deposit(engine, client, MOA, L05, "A19", "EAV-L05-07", n=7,
                             now=at(12, 16))

    invoices = server.state.invoices
    assert [i.frame for i in invoices.values()] == [
        "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR", "A15_ETAT_ACOMPTE_MOE",
        "A19_ETAT_ACOMPTE_VALIDE_MOA"]
    a19 = invoices[result["chorus_id"]].payload
    assert a19["montantTotal"] == {
        "montantHtTotal": 1500.0, "montantTVA": 300.0, "montantTtcAvantRemiseGlobalTTC": 1800.0,
        "montantRemiseGlobaleTTC": 90.0, "motifRemiseGlobaleTTC": a19["montantTotal"][
            "motifRemiseGlobaleTTC"], "montantAPayer": 1710.0}
    assert a19["destinataire"] == {"codeDestinataire": HOSPITAL,
                                   "codeServiceExecutant": "DIR-TRAVAUX"}
    assert a19["references"]["numeroBonCommande"] == "EJ2025-0005"
    # each piece in the PDF deposit mode (no posting lines), by its own structure (titulaire,
    # MOE, MOA) through that structure's technical account, answering the previous piece
    pieces = list(invoices.values())
    assert [p.payload["modeDepot"] for p in pieces] == ["DEPOT_PDF_API"] * 3
    assert not any("lignePoste" in p.payload for p in pieces)
    ids = {siret: st["idStructureCPP"] for siret, st in server.state.structures.items()}
    assert [p.supplier_id for p in pieces] == [ids[MAL], ids[ARC], ids[HOSPITAL]]
    assert [p.payload["references"]["numeroFactureOrigine"] for p in pieces] == [
        None, "PD-L05-07", "EA-L05-07"]
    import base64

    submitters = [base64.b64decode(h["cpro-account"]).decode().split(":")[0]
                  for path, h in zip(server.state.calls[-len(server.state.seen_headers):],
                                     server.state.seen_headers, strict=True)
                  if path == "/cpro/facturesTravaux/v1/soumettre"]
    assert submitters == [ACCOUNTS[MAL][0], ACCOUNTS[ARC][0], ACCOUNTS[HOSPITAL][0]]
    main = server.state.files[a19["pieceJointePrincipale"][0]["pieceJointePrincipaleId"]]
    assert main["name"] == "valide-CHMV-EHPAD-L05-n7.pdf" and main["size"] > 1000
    with engine.connect() as conn:
        pieces = conn.execute(text("SELECT frame, amount_ht, amount_vat, amount_ttc, "
                                   "amount_to_pay, status FROM chorus_piece ORDER BY piece_id"
                                   )).all()
        statement = conn.execute(text(
            "SELECT net_month FROM payment_statement WHERE contract_id = :c AND n = 7"),
            {"c": L05}).scalar()
    assert statement == bonus_month.to_pay
    assert [tuple(p) for p in pieces] == [
        ("A4", 0, 0, 0, 0, "DEPOSEE"),  # the contractor asked for nothing more this month
        ("A15", *vars(bonus_month).values(), "DEPOSEE"),
        ("A19", *vars(bonus_month).values(), "DEPOSEE")]

    # the paying service works on the A19; polling follows it and pays the situation
    server.state.set_status(result["chorus_id"], "MISE_A_DISPOSITION", at(13, 9))
    server.state.set_status(result["chorus_id"], "SUSPENDUE", at(14, 9))
    changes = billing.poll(engine, client, now=at(14, 18))
    a19_change = next(c for c in changes if c["frame"] == "A19")
    assert (a19_change["to"], a19_change["effect"]) == ("SUSPENDUE", "suspension")
    assert billing.poll(engine, client, now=at(14, 19)) == []  # nothing new
    server.state.set_status(result["chorus_id"], "COMPLETEE", at(16, 9))
    server.state.set_status(result["chorus_id"], "MISE_EN_PAIEMENT", at(28, 11))
    changes = billing.poll(engine, client, now=at(29, 8))
    assert [(c["frame"], c["to"], c["effect"]) for c in changes] == [
        ("A19", "MISE_EN_PAIEMENT", "paiement")]

    frames = load_frames(engine, [L05])
    sit = frames.situations.set_index("n").loc[7]
    assert sit["status"] == "paid" and sit["paid_at"] == at(28, 11)
    delays = compute_delays(frames.situations, frames.contracts, frames.operations,
                            ledger_from_frames(frames).situations, frames.ecb_rates,
                            frames.events, as_of=at(29))
    delay = delays.set_index(["contract_id", "n"]).loc[(L05, 7)]
    # received 1 July, paid 28 July: 27 days, within the hospital's 50, no interest
    assert (delay["paid_at"], delay["elapsed_days"], delay["late_days"],
            delay["late_interest"]) == (at(28, 11), 27, 0, 0)
    with engine.connect() as conn:
        history = conn.execute(text("SELECT s.status FROM chorus_status s JOIN chorus_piece p "
                                    "USING (piece_id) WHERE p.frame = 'A19' ORDER BY s.at")
                               ).scalars().all()
        actions = conn.execute(text("SELECT action FROM event WHERE contract_id = :c AND n = 7 "
                                    "ORDER BY event_id"), {"c": L05}).scalars().all()
    assert history == ["DEPOSEE", "MISE_A_DISPOSITION", "SUSPENDUE", "COMPLETEE",
                       "MISE_EN_PAIEMENT"]
    # one event per deposit, one per poll that found news, then the payment it recorded
    assert actions[-6:] == ["chorus_deposit", "chorus_deposit", "chorus_deposit",
                            "chorus_status", "chorus_status", "pay"]


def test_checker_refuses_before_sending(engine, server, client):
    month_with_bonus(engine, validate=False)
    billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7, now=at(12, 14))
    with engine.begin() as conn:
        conn.execute(text("UPDATE billing_identity SET service_code = NULL, "
                          "engagement_number = NULL, market_number = '' WHERE contract_id = :c"),
                     {"c": L05})
    calls = len(server.state.calls)
    with pytest.raises(DepositRejected) as caught:
        billing.deposit(engine, client, MOA, L05, "A19", "PD-L05-07", n=7,
                        amounts=billing.Amounts(150_000, 30_000, 180_000, 171_000),
                        now=at(12, 16))
    assert caught.value.problems == [
        "situation n°7 pas encore à l'étape de l'état d'acompte validé : le cadre A19 ne peut "
        "pas être déposé",
        "cadre A19 déposé hors de son tour : le dossier attend A15 (état d'acompte du maître "
        "d'œuvre)",
        "Centre hospitalier de Montbrison-les-Vignes exige un code service ou un numéro "
        "d'engagement juridique",
        "numéro de marché manquant",
        "pièce principale (PDF du document transmis) manquante",
    ]
    assert len(server.state.calls) == calls  # nothing was sent
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chorus_piece")).scalar() == 1
    # the same number twice for the same depositor is caught before sending, too
    problems = billing.check(engine, CONTRACTOR, L05, "A4", "PD-L05-07", n=7)
    assert "numéro « PD-L05-07 » déjà utilisé par ce déposant (un numéro par pièce et par " \
           "fournisseur)" in problems


def test_duplicate_number_rejected_by_chorus(server, client):
    file_id = client.add_file("piece.pdf", b"%PDF-1.4 test")
    payload = {"numeroFactureSaisi": "F-001", "fournisseur": {"idFournisseur": 7},
               "destinataire": {"codeDestinataire": HOSPITAL},
               "cadreDeFacturation": {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
               "montantTotal": {"montantHtTotal": 10.0, "montantTtcTotal": 12.0},
               "pieceJointePrincipale": [{"pieceJointePrincipaleId": file_id}]}
    first = client.submit(payload)
    assert first["statutFacture"] == "DEPOSEE"
    with pytest.raises(ChorusError) as caught:
        client.submit(payload)
    assert caught.value.code == DUPLICATE_CODE and caught.value.http_status == 400
    assert "code retour 20001" in str(caught.value)
    # another supplier may use the same number
    client.submit({**payload, "fournisseur": {"idFournisseur": 8}})


def test_token_is_reused_then_renewed_when_it_expires(server):
    clock = [0.0]
    client = PisteClient(config_for(server), clock=lambda: clock[0])
    client.find_structure(HOSPITAL)
    client.find_structure(MAL)
    assert client.token_requests == 1
    # the server revokes/expires it: a 401, one new token, the call goes through
    server.state.expire_tokens()
    assert client.find_structure(HOSPITAL)["idStructureCPP"] > 0
    assert client.token_requests == 2
    # close to its announced lifetime the client renews it before calling
    clock[0] = 3600 - 30
    client.find_structure(HOSPITAL)
    assert client.token_requests == 3
    statuses = [c for c in server.state.calls if c.startswith("/cpro/")]
    assert len(statuses) == 5  # 4 calls + the one answered 401


def test_retries_with_backoff_then_gives_up(server):
    sleeps: list[float] = []
    client = PisteClient(config_for(server, backoff_s=0.5), sleep=sleeps.append)
    client.find_structure(HOSPITAL)
    server.state.fail_next(503, 502)
    assert client.find_structure(HOSPITAL)["identifiantStructure"] == HOSPITAL
    assert sleeps == [0.5, 1.0]
    server.state.fail_next(503, 503, 503, 503)
    with pytest.raises(ChorusUnavailable, match="après 4 essais"):
        client.find_structure(HOSPITAL)
    assert sleeps[2:] == [0.5, 1.0, 2.0]


def test_wrong_credentials_are_refused(server):
    with pytest.raises(ChorusError, match="identifiants client inconnus"):
        PisteClient(config_for(server, client_secret="faux")).find_structure(HOSPITAL)
    with pytest.raises(ChorusError, match="compte technique Chorus Pro invalide") as caught:
        PisteClient(config_for(server, accounts={}, password="faux")).find_structure(HOSPITAL)
    assert caught.value.http_status == 403
    # a structure's own account with a wrong password is refused the same way
    wrong = {**ACCOUNTS, MAL: (ACCOUNTS[MAL][0], "faux")}
    with pytest.raises(ChorusError, match="compte technique Chorus Pro invalide"):
        PisteClient(config_for(server, accounts=wrong)).find_structure(MAL)


def test_structure_parameters_and_services(server, client):
    structure = client.find_structure(HOSPITAL)
    params = client.structure_parameters(structure["idStructureCPP"])
    assert params == {"codeServiceDoitEtreRenseigne": False, "numeroEJDoitEtreRenseigne": False,
                      "gestionNumeroEJOuCodeService": True}
    assert [s["codeService"] for s in client.structure_services(
        structure["idStructureCPP"])] == ["DIR-TRAVAUX"]
    with pytest.raises(ChorusError, match="aucune structure pour le SIRET 40001037710373"):
        client.find_structure("40001037710373")


def test_no_secret_is_logged_or_shown(server, caplog):
    config = config_for(server)
    with caplog.at_level(logging.DEBUG):
        client = PisteClient(config)
        client.find_structure(HOSPITAL)
        server.state.expire_tokens()
        client.find_structure(HOSPITAL)
    header = server.state.seen_headers[-1]["cpro-account"]
    token = server.state.seen_headers[-1]["Authorization"].split()[1]
    shown = caplog.text + repr(config) + repr(client)
    for secret in (config.client_secret, config.password, header, token):
        assert secret not in shown
    assert "jeton PISTE obtenu" in caplog.text  # the log does say what happened


def test_config_from_environment():
    env = {"GESPROKIT_PISTE_CLIENT_ID": "id", "GESPROKIT_PISTE_CLIENT_SECRET": "s",
           "GESPROKIT_PISTE_LOGIN": "TECH", "GESPROKIT_PISTE_PASSWORD": "p"}
    sandbox = PisteConfig.from_env(env)
    assert sandbox.token_url == "https://sandbox-oauth.piste.gouv.fr/api/oauth/token"
    assert sandbox.base_url == "https://sandbox-api.piste.gouv.fr"
    prod = PisteConfig.from_env({**env, "GESPROKIT_PISTE_ENV": "production"})
    assert (prod.token_url, prod.base_url) == ("https://oauth.piste.gouv.fr/api/oauth/token",
                                               "https://api.piste.gouv.fr")
    with pytest.raises(Exception, match="GESPROKIT_PISTE_PASSWORD manquant"):
        PisteConfig.from_env({k: v for k, v in env.items() if "PASSWORD" not in k})


def test_validated_pdf_export_for_deposit(engine, tmp_path):
    month_with_bonus(engine)
    path = billing.export_validated_pdf(engine, L05, 7, tmp_path)
    assert path.name == "valide-CHMV-EHPAD-L05-n7.pdf" and len(path.name) <= 50
    assert path.read_bytes().startswith(b"%PDF-")
    with pytest.raises(Exception, match="n'a pas d'état d'acompte validé"):
        billing.export_validated_pdf(engine, L05, 6, tmp_path)  # imported, no PDF produced


def test_final_file_through_the_tacit_procedure(engine, server, client):
    import json
    from datetime import date

    from gesprokit import end_of_contract
    from gesprokit.workflow import File

    pdf = File("projet-decompte-final-L05.pdf", b"%PDF-1.4 projet de decompte final")
    a7_at = datetime(2026, 8, 3, 9, 0)
    # the A7 transmits the projet de décompte final recorded after the réception: an A7 of
    # other amounts is refused before anything is sent
    before = billing.check(engine, CONTRACTOR, L05, "A7", "PDF-L05", files=[pdf],
                           amounts=billing.Amounts(100, 20, 120, 120), on=a7_at.date())
    assert "aucun projet de décompte final : le cadre A7 ne peut pas être déposé" in before
    end_of_contract.record_reception(engine, MOA, L05, date(2026, 7, 15), now=a7_at)
    with engine.connect() as conn:
        lines = conn.execute(text("SELECT line_no FROM price_line WHERE contract_id = :c"),
                             {"c": L05}).scalars().all()
    end_of_contract.submit_final(engine, CONTRACTOR, L05, "2026-07",
                                 {line: 10_000 for line in lines}, now=a7_at)
    with engine.connect() as conn:
        claim = json.loads(conn.execute(text("SELECT claim_figures FROM final_account WHERE "
                                             f"contract_id = '{L05}'"))
                           .scalar())
    solde = billing.Amounts(ht=claim["total_ht_cum"], vat=claim["vat_cum"],
                            ttc=claim["total_ttc_cum"], to_pay=claim["solde"])
    wrong = billing.check(engine, CONTRACTOR, L05, "A7", "PDF-L05", files=[pdf],
                          amounts=billing.Amounts(100, 20, 120, 120), on=a7_at.date())
    assert ("montant HT 1,00\xa0€ différent de celui du projet de décompte final "
            f"({format_eur(claim['total_ht_cum'])})") in wrong
    CLOCK[0] = a7_at
    billing.deposit(engine, client, CONTRACTOR, L05, "A7", "PDF-L05", amounts=solde,
                    files=[pdf], now=a7_at)
    a22 = File("projet-decompte-general-L05.pdf", b"%PDF-1.4 projet de DG")
    # the MOA has until 2 September (30 days after 3 August) to notify the DG
    assert billing.check(engine, CONTRACTOR, L05, "A22", "PDG-L05", amounts=solde,
                         files=[a22], on=datetime(2026, 9, 2).date()) == [
        "procédure tacite prématurée : le maître d'ouvrage a jusqu'au 02/09/2026 pour "
        "notifier le décompte général"]
    CLOCK[0] = datetime(2026, 9, 3, 8, 0)
    billing.deposit(engine, client, CONTRACTOR, L05, "A22", "PDG-L05", amounts=solde,
                    files=[a22], now=CLOCK[0])
    dgd = File("dgd-tacite-L05.pdf", b"%PDF-1.4 DGD tacite")
    assert billing.check(engine, CONTRACTOR, L05, "A23", "DGD-L05", amounts=solde,
                         files=[dgd], on=datetime(2026, 9, 13).date()) == [
        "le projet de décompte général ne devient définitif que le 14/09/2026 (10 jours "
        "après sa notification)"]
    CLOCK[0] = datetime(2026, 9, 14, 8, 0)
    billing.deposit(engine, client, CONTRACTOR, L05, "A23", "DGD-L05", amounts=solde,
                    files=[dgd], now=CLOCK[0])
    with engine.connect() as conn:
        frames = conn.execute(text("SELECT frame FROM chorus_piece WHERE file_key = 'final' "
                                   "ORDER BY piece_id")).scalars().all()
    assert frames == ["A7", "A22", "A23"]


def test_cli_check_lists_the_problems(engine, capsys):
    from gesprokit.accounts import create_user
    from gesprokit.cli import main

    create_user(engine, "direction@ch.fr", "Direction", "CHMV", "moa", "mot-de-passe-solide",
                operations=["CHMV-EHPAD"])
    month_with_bonus(engine, validate=False)
    url = str(engine.url)
    assert main(["chorus", "check", L05, "A19", "EAV-L05-07", "--n", "7", "--as",
                 "direction@ch.fr", "--db", url]) == 2
    out = capsys.readouterr().out
    assert "- situation n°7 pas encore à l'étape de l'état d'acompte validé" in out
    assert out.rstrip().endswith("3 problème(s) : dépôt impossible en l'état.")
    workflow.validate(engine, MOA, L05, 7, now=at(12))
    assert main(["chorus", "check", L05, "A19", "EAV-L05-07", "--n", "7", "--as",
                 "direction@ch.fr", "--db", url]) == 2  # A4 and A15 still missing
    assert "le dossier attend A4" in capsys.readouterr().out


def test_chorus_panel_deposits_each_actors_piece(engine, server):
    from gesprokit.accounts import create_user
    from gesprokit.session import connect
    from gesprokit.ui.chorus_panel import ChorusPanel

    for who in (CONTRACTOR, MOE, MOA):
        create_user(engine, who.email, who.email, who.company_code, who.role, "mot-de-passe-1",
                    operations=["CHMV-EHPAD"])
    month_with_bonus(engine)

    def panel(who: Actor) -> ChorusPanel:
        return ChorusPanel(connect(engine, who.email, "mot-de-passe-1"), at(12, 15),
                           client_factory=lambda: PisteClient(config_for(server)))

    moa = panel(MOA)
    moa.queue.value = (L05, 7)
    assert moa.number.value == "EAV-L05-07"
    assert moa.deposit_button.disabled
    assert "le dossier attend A4 (projet de décompte mensuel)" in moa.problems.value
    assert "Aucune pièce de ce dossier" in moa.file.value

    contractor = panel(CONTRACTOR)
    contractor.queue.value = (L05, 7)
    assert contractor.number.value == "PD-L05-07" and "prêt pour le dépôt" in \
        contractor.problems.value
    assert contractor.on_deposit() is not None and "Déposé" in contractor.message.value
    # the same number again is refused before anything is sent
    contractor.number.value = "PD-L05-07"
    assert contractor.deposit_button.disabled and "déjà utilisé" in contractor.problems.value
    moe = panel(MOE)
    moe.queue.value = (L05, 7)
    assert moe.on_deposit() is not None

    moa.check()
    assert not moa.deposit_button.disabled
    assert moa.on_deposit() is not None
    assert "A19" in moa.file.value and "1\u202f710,00\xa0€" in moa.file.value
    server.state.set_status(max(server.state.invoices), "SUSPENDUE", at(14, 9))
    with PisteClient(config_for(server)) as client:
        billing.poll(engine, client, now=at(14, 10))
    moa.check()
    assert "pièce suspendue, à compléter" in moa.file.value


def test_chorus_panel_without_configuration_says_so(engine, monkeypatch):
    from gesprokit.accounts import create_user
    from gesprokit.session import connect
    from gesprokit.ui.chorus_panel import ChorusPanel

    for key in ("CLIENT_ID", "CLIENT_SECRET", "LOGIN", "PASSWORD"):
        monkeypatch.delenv(f"GESPROKIT_PISTE_{key}", raising=False)
    create_user(engine, CONTRACTOR.email, "Alu", "MAL", "contractor", "mot-de-passe-1",
                operations=["CHMV-EHPAD"])
    month_with_bonus(engine, validate=False)
    contractor = ChorusPanel(connect(engine, CONTRACTOR.email, "mot-de-passe-1"), at(12, 15))
    contractor.queue.value = (L05, 7)
    assert contractor.on_deposit() is None
    assert "Dépôt Chorus Pro non configuré : Configuration PISTE incomplète" in \
        contractor.message.value


def test_cli_files_and_validated_pdf(engine, client, tmp_path, capsys):
    from gesprokit.cli import main

    month_with_bonus(engine)
    billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7, now=at(12, 14))
    url = str(engine.url)
    assert main(["chorus", "files", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "CHMV-EHPAD-L05 n7     A4   n°PD-L05-07" in out and "déposée (12/07/2026)" in out
    assert main(["chorus", "pdf", L05, "7", "-o", str(tmp_path), "--db", url]) == 0
    assert (tmp_path / "valide-CHMV-EHPAD-L05-n7.pdf").read_bytes().startswith(b"%PDF-")
    assert main(["chorus", "pdf", L05, "6", "-o", str(tmp_path), "--db", url]) == 2
    assert "n'a pas d'état d'acompte validé" in capsys.readouterr().err


def test_imported_situation_asks_for_its_signed_pdf(engine):
    from gesprokit.workflow import File

    moa = Actor("direction@ch.fr", "moa", "CHMV")
    problems = billing.check(engine, moa, "CHMV-EHPAD-L11", "A19", "EAV-L11-09", n=9)
    assert problems == [
        "cadre A19 déposé hors de son tour : le dossier attend A4 (projet de décompte mensuel)",
        "pièce principale (PDF de l'état d'acompte validé : la situation vient d'un historique "
        "importé, joindre le PDF signé) manquante"]
    signed = File("etat-valide-L11-n9.pdf", b"%PDF-1.4 etat valide signe")
    assert billing.check(engine, moa, "CHMV-EHPAD-L11", "A19", "EAV-L11-09", n=9,
                         files=[signed]) == [problems[0]]


def test_chorus_panel_takes_the_signed_pdf_of_an_imported_situation(engine):
    from gesprokit.accounts import create_user
    from gesprokit.session import connect
    from gesprokit.ui.chorus_panel import ChorusPanel

    create_user(engine, MOA.email, "Direction", "CHMV", "moa", "mot-de-passe-1",
                operations=["CHMV-EHPAD"])
    panel = ChorusPanel(connect(engine, MOA.email, "mot-de-passe-1"), at(12, 15))
    panel.queue.value = ("CHMV-EHPAD-L11", 9)
    assert "joindre le PDF signé" in panel.problems.value
    content = b"%PDF-1.4 etat valide signe"
    panel.upload.value = ({"name": "etat-valide-L11-n9.pdf", "type": "application/pdf",
                           "size": len(content), "content": memoryview(content),
                           "last_modified": at(12, 15)},)
    assert "joindre le PDF signé" not in panel.problems.value
    assert "1 problème(s)" in panel.problems.value  # the A4 and A15 are still missing


def test_structure_parameters_refreshed_from_chorus(engine, server, client):
    # Chorus now requires an engagement number and has a new service; one service retired
    hospital = server.state.structures[HOSPITAL]
    hospital["parametres"]["numeroEJDoitEtreRenseigne"] = True
    hospital["services"] = [{"idService": 1, "codeService": "DIR-TRAVAUX", "estActif": False},
                            {"idService": 2, "codeService": "SERV-INVEST", "estActif": True}]
    structure = billing.refresh_structure(engine, client, HOSPITAL)
    assert structure.moa_mode == "avec_moa"  # kept: the API does not carry it
    assert structure.engagement_required and structure.service_or_engagement
    assert structure.services == frozenset({"SERV-INVEST"})
    # the contract's code service is no longer active: the checker says so
    problems = billing.check(engine, MOA, L05, "A19", "EAV-L05-07", n=6)
    assert ("code service « DIR-TRAVAUX » inconnu ou inactif chez Centre hospitalier de "
            "Montbrison-les-Vignes (services : SERV-INVEST)") in problems
    with pytest.raises(Exception, match="Paramètre MOA de la structure 40005037350379 inconnu"):
        billing.refresh_structure(engine, client, MAL)
    assert billing.refresh_structure(engine, client, MAL, moa_mode="sans_moa").name == \
        "Menuiseries Alu Lyonnaises"
    with pytest.raises(Exception, match="SIRET de la structure invalide"):
        billing.refresh_structure(engine, client, "12345678901234")


def test_cli_structure(engine, server, capsys, monkeypatch):
    from gesprokit.cli import main

    for key, value in (("CLIENT_ID", server.state.client_id),
                       ("CLIENT_SECRET", server.state.client_secret),
                       ("LOGIN", server.state.login), ("PASSWORD", server.state.password),
                       ("OAUTH_URL", server.token_url), ("API_URL", server.url)):
        monkeypatch.setenv(f"GESPROKIT_PISTE_{key}", value)
    assert main(["chorus", "structure", HOSPITAL, "--db", str(engine.url)]) == 0
    assert capsys.readouterr().out.strip() == (
        "Centre hospitalier de Montbrison-les-Vignes (26420017100173) : avec_moa ; exige : "
        "code service ou engagement ; services actifs : DIR-TRAVAUX")
    assert main(["chorus", "structure", MAL, "--db", str(engine.url)]) == 1
    assert "Paramètre MOA de la structure" in capsys.readouterr().err


def _client_on(handler, clock=None, timeout_s: float = 2.0):
    """A client whose HTTP answers come from `handler` (no network), with a fake clock."""
    import httpx

    from gesprokit.chorus.piste import PisteClient, PisteConfig

    config = PisteConfig(client_id="id", client_secret="secret-du-client", login="tech",
                         password="mot-de-passe-technique", oauth_url="http://pisteloc/token",
                         api_url="http://pisteloc", timeout_s=timeout_s, retries=0)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return PisteClient(config, http=http, sleep=lambda _s: None,
                       clock=clock or (lambda: 0.0))


def _token(request):
    import httpx

    if request.url.path == "/token":
        return httpx.Response(200, json={"access_token": "jeton-secret", "expires_in": 3600})
    return None


def test_a_server_that_drips_its_answer_is_cut_at_the_overall_deadline():
    import httpx

    from gesprokit.chorus.piste import ChorusUnavailable

    now = [0.0]

    class Drip(httpx.SyncByteStream):
        def __iter__(self):
            for _ in range(100):  # a byte every 0.5 s: each read is quick, the whole is not
                now[0] += 0.5
                yield b" "

    def handler(request):
        return _token(request) or httpx.Response(200, stream=Drip())
    client = _client_on(handler, clock=lambda: now[0], timeout_s=2.0)
    with pytest.raises(ChorusUnavailable, match="ne répond pas"):
        client.call("structures/v1/rechercher", {})
    assert now[0] < 4  # stopped soon after the 2 s deadline, not after 50 s


def test_malformed_or_huge_answers_are_french_errors():
    import httpx

    from gesprokit.chorus.piste import MAX_RESPONSE_BYTES, ChorusError

    answers = {"/cpro/a": httpx.Response(200, content=b"<html>pas du JSON</html>"),
               "/cpro/b": httpx.Response(200, json=[1, 2, 3]),
               "/cpro/structures/v1/consulter": httpx.Response(200, json={"codeRetour": 0}),
               "/cpro/c": httpx.Response(200, content=b"{" + b" " * (MAX_RESPONSE_BYTES + 1))}
    client = _client_on(lambda r: _token(r) or answers[r.url.path])
    for service, reason in (("a", "réponse illisible"), ("b", "réponse illisible"),
                            ("c", "réponse trop volumineuse")):
        with pytest.raises(ChorusError, match=reason):
            client.call(service, {})
    with pytest.raises(ChorusError, match="réponse sans « parametres »"):
        client.structure_parameters(12)
    bad_token = _client_on(lambda r: httpx.Response(200, json={"token": "?"}))
    with pytest.raises(ChorusError, match="serveur de jetons illisible"):
        bad_token.call("a", {})


def test_a_secret_echoed_by_the_server_never_reaches_the_message():
    import httpx

    from gesprokit.chorus.piste import ChorusError

    def handler(request):
        if request.url.path == "/token":
            return httpx.Response(401, json={"error_description": "client_secret "
                                             "secret-du-client refusé"})
        return httpx.Response(500)
    with pytest.raises(ChorusError) as caught:
        _client_on(handler).call("a", {})
    assert "secret-du-client" not in str(caught.value) and "***" in str(caught.value)


RECORDED = Path(__file__).parent / "data" / "chorus"


def recorded_client(answers: dict[str, str]) -> PisteClient:
    """A client whose calls are answered by the recorded specification-shape answers:
    service path → file of tests/data/chorus (HTTP 200 each, as the platform answers)."""
    import httpx

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "jeton", "token_type": "Bearer",
                                             "expires_in": 3600, "scope": "openid"})
        service = request.url.path.removeprefix("/cpro/")
        return httpx.Response(200, content=(RECORDED / answers[service]).read_bytes(),
                              headers={"Content-Type": "application/json"})
    config = PisteConfig(client_id="id", client_secret="secret", login="tech",
                         password="mot-de-passe", oauth_url="http://piste.test/token",
                         api_url="http://piste.test", backoff_s=0.0)
    return PisteClient(config, http=httpx.Client(transport=httpx.MockTransport(answer)))


def test_a_history_in_the_specifications_shape_pays_the_situation(engine):
    """The status history as the API annex shows it (a list under
    historiquesDesStatuts.histoStatut, newest first, dates « AAAA-MM-JJ HH:MM »): every
    status is recorded in order and MISE_EN_PAIEMENT pays the situation on its date."""
    from gesprokit.chorus.piste import status_history

    month_with_bonus(engine)
    with engine.begin() as conn:  # the A19 as deposited (its Chorus id is the recorded one)
        conn.execute(text(
            "INSERT INTO chorus_piece (contract_id, file_key, frame, number, depositor_siret, "
            "deposited_at, deposited_by, chorus_id, amount_ht, amount_vat, amount_ttc, "
            "amount_to_pay, status, status_at, attachments) VALUES (:c, 'n7', 'A19', "
            "'EAV-L05-07', :s, :d, 'direction@ch.fr', '2194673', 150000, 30000, 180000, "
            "171000, 'DEPOSEE', :d, '[]')"), {"c": L05, "s": HOSPITAL, "d": at(12, 16)})
    client = recorded_client({"factures/v1/consulter/historique":
                              "historique-mise-en-paiement.json"})
    changes = billing.poll(engine, client, now=at(29, 8))
    assert [(c["frame"], c["to"], c["effect"]) for c in changes] == [
        ("A19", "MISE_EN_PAIEMENT", "paiement")]
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status, at FROM chorus_status ORDER BY at")).all()
        sit = conn.execute(text("SELECT status, paid_at FROM situation WHERE contract_id = :c "
                                "AND n = 7"), {"c": L05}).one()
    assert [s for s, _ in statuses] == ["DEPOSEE", "MISE_A_DISPOSITION", "MANDATEE",
                                        "MISE_EN_PAIEMENT"]
    assert pd.Timestamp(statuses[-1][1]) == pd.Timestamp("2026-07-28 11:00")
    assert (sit[0], pd.Timestamp(sit[1])) == ("paid", pd.Timestamp("2026-07-28 11:00"))
    # a history of one status may come as an object, not a list
    lone = json.loads((RECORDED / "historique-un-statut.json").read_text(encoding="utf-8"))
    assert status_history(lone) == [(datetime(2026, 7, 12, 16, 0), "DEPOSEE")]
    # « no result » comes with HTTP 200 and a non-zero code: an empty search, not an error
    empty = recorded_client({"facturesTravaux/v1/rechercher":
                             "recherche-travaux-aucun-resultat.json"})
    assert empty.find_works_invoice("PD-L05-07", siret=MAL) is None


def test_a_lost_answer_does_not_deposit_twice(engine, server, client):
    """The platform deposits the A4 but its answer is lost: the client does not send it
    again blind; it finds the piece under its number and records it once. A submit refused
    with a 503 (nothing deposited) is found absent, then sent once more."""
    month_with_bonus(engine)
    server.state.lose_next_answer()
    first = billing.deposit(engine, client, CONTRACTOR, L05, "A4", "PD-L05-07", n=7,
                            now=at(12, 14))
    submits = [c for c in server.state.calls if c == "/cpro/facturesTravaux/v1/soumettre"]
    assert len(submits) == 1 and len(server.state.invoices) == 1
    assert first["chorus_id"] == next(iter(server.state.invoices))
    # the MOE's piece: a 503 on submit, nothing done on the platform's side
    server.state.fail_next(503)
    billing.deposit(engine, client, MOE, L05, "A15", "EA-L05-07", n=7, now=at(12, 15))
    assert [i.number for i in server.state.invoices.values()] == ["PD-L05-07", "EA-L05-07"]
    with engine.connect() as conn:
        pieces = conn.execute(text("SELECT frame, number, chorus_id FROM chorus_piece ORDER BY "
                                   "piece_id")).all()
    assert [(f, num) for f, num, _ in pieces] == [("A4", "PD-L05-07"), ("A15", "EA-L05-07")]
    assert [int(c) for *_, c in pieces] == list(server.state.invoices)
