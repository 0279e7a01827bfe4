"""The local Chorus Pro stand-in filled from a base: its structures (with their services and
compulsory references) and every company's, and a client configured for it. Serves
``gesprokit chorus serve-local`` and the demonstration's billing files."""

from __future__ import annotations

from sqlalchemy import Engine, select

from gesprokit import schema
from gesprokit.chorus.contract_server import ContractServer, State
from gesprokit.chorus.piste import PisteClient, PisteConfig


def state_from_base(engine: Engine, state: State | None = None) -> State:
    """A stand-in state knowing the base's Chorus structures and companies."""
    state = state or State()
    with engine.connect() as conn:
        services: dict[str, list[str]] = {}
        for siret, code in conn.execute(select(schema.ChorusService.siret,
                                               schema.ChorusService.code)):
            services.setdefault(siret, []).append(code)
        for s in conn.execute(select(schema.ChorusStructure)):
            state.add_structure(s.siret, s.name, service_required=s.service_required,
                                engagement_required=s.engagement_required,
                                service_or_engagement=s.service_or_engagement,
                                services=tuple(services.get(s.siret, ())))
        for c in conn.execute(select(schema.Company)):
            if c.siret not in state.structures:
                state.add_structure(c.siret, c.name)
    return state


def client_for(server: ContractServer) -> PisteClient:
    """A client of the stand-in, with its demonstration credentials."""
    state = server.state
    return PisteClient(PisteConfig(client_id=state.client_id, client_secret=state.client_secret,
                                   login=state.login, password=state.password,
                                   oauth_url=server.token_url, api_url=server.url,
                                   backoff_s=0.05))
