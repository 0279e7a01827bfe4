"""The deposit form of the document library (ipywidgets): it calls the deposit action and
shows its French message; it checks nothing itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ipywidgets as w
from sqlalchemy import Engine, select

from gesprokit import schema
from gesprokit.db import reading
from gesprokit.errors import GesprokitError
from gesprokit.library.actions import DEFAULT_FOLDERS, deposit, writable_folders
from gesprokit.library.identifiers import DISCIPLINES
from gesprokit.ui.common import error_html, ok_html
from gesprokit.workflow import Actor, File


class DepositForm:
    """Title, description, folder, discipline, lot, file (PDF) and, if needed, the reason
    for another format."""

    def __init__(self, engine: Engine, actor: Actor, operation_code: str | list[str],
                 now: datetime | None = None, check_account: Callable[[], None] | None = None):
        codes = [operation_code] if isinstance(operation_code, str) else list(operation_code)
        self.engine, self.actor, self.now = engine, actor, now
        self.check_account = check_account  # the session's: refuses a changed account
        with reading(engine).connect() as conn:
            writable = writable_folders(conn, actor)
        style = {"description_width": "140px"}
        layout = w.Layout(width="640px")
        # the operation deposited in, chosen when the account has several
        self.operation = w.Dropdown(description="Opération", style=style, layout=layout,
                                    options=codes, value=codes[0])
        self.operation.observe(lambda _c: self._load_lots(), names="value")
        self.title = w.Text(description="Titre", style=style, layout=layout,
                            placeholder="ce que contient le document (sans indice ni date)")
        self.description = w.Textarea(description="Description", style=style, layout=layout)
        self.folder = w.Dropdown(description="Dossier", style=style, layout=layout,
                                 options=[(DEFAULT_FOLDERS[c][0], c) for c in writable])
        self.discipline = w.Dropdown(description="Spécialité", style=style, layout=layout,
                                     options=[(f"{k} – {v}", k) for k, v in DISCIPLINES.items()])
        self.lot = w.Dropdown(description="Lot", style=style, layout=layout)
        self._load_lots()
        self.upload = w.FileUpload(description="Fichier", accept=".pdf", multiple=False)
        self.exception = w.Text(description="Exception au PDF", style=style, layout=layout,
                                placeholder="justification si le fichier n'est pas un PDF")
        self.recipients = w.Text(description="Destinataires", style=style, layout=layout,
                                 placeholder="adresses séparées par des virgules (comptes rendus)")
        self.button = w.Button(description="Déposer", button_style="primary",
                               disabled=not writable)
        self.message = w.HTML("" if writable else
                              "<b>Votre rôle ne peut déposer dans aucun dossier.</b>")
        self.button.on_click(self.submit)

    @property
    def operation_code(self) -> str:
        return self.operation.value

    def _load_lots(self) -> None:
        with reading(self.engine).connect() as conn:
            lots = conn.execute(select(schema.Lot.code, schema.Lot.name).where(
                schema.Lot.operation_code == self.operation.value).order_by(schema.Lot.code)
            ).all()
        self.lot.options = [("(aucun)", "")] + [(f"{c} – {n}", c) for c, n in lots]
        self.lot.value = ""

    def _file(self) -> File | None:
        if not self.upload.value:
            return None
        item = self.upload.value[0]
        return File(item["name"], bytes(item["content"]))

    def submit(self, _button=None) -> tuple[str, str] | None:
        """Deposit; the message says the identifier and index, or why it was refused."""
        file = self._file()
        if file is None:
            self.message.value = "<span style='color:#b03a2e'>Choisir un fichier.</span>"
            return None
        try:
            if self.check_account is not None:
                self.check_account()
            doc, index = deposit(
                self.engine, self.actor, operation_code=self.operation_code,
                title=self.title.value, folder_code=self.folder.value,
                discipline=self.discipline.value, file=file, lot_code=self.lot.value or None,
                description=self.description.value or None,
                format_exception=self.exception.value or None,
                recipients=[r for r in self.recipients.value.split(",") if r.strip()],
                now=self.now)
        except GesprokitError as exc:
            self.message.value = error_html(exc)
            return None
        self.message.value = ok_html(f"Déposé : {doc}, indice {index}.")
        return doc, index

    def widget(self) -> w.Widget:
        header = [self.operation] if len(self.operation.options) > 1 else []
        return w.VBox([*header, self.title, self.description, self.folder, self.discipline,
                       self.lot, self.upload, self.exception, self.recipients, self.button,
                       self.message])
