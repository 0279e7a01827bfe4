"""The deposit form of the document library (ipywidgets): it calls the deposit action and
shows its French message; it checks nothing itself."""

from __future__ import annotations

from datetime import datetime

import ipywidgets as w
from sqlalchemy import Engine, select

from gesprokit import schema
from gesprokit.errors import GesprokitError
from gesprokit.library.actions import DEFAULT_FOLDERS, deposit, install_folders, rights
from gesprokit.library.identifiers import DISCIPLINES
from gesprokit.workflow import Actor, File


class DepositForm:
    """Title, description, folder, discipline, lot, file (PDF) and, if needed, the reason
    for another format."""

    def __init__(self, engine: Engine, actor: Actor, operation_code: str,
                 now: datetime | None = None):
        self.engine, self.actor, self.operation_code, self.now = engine, actor, operation_code, now
        with engine.begin() as conn:
            install_folders(conn)
            writable = [code for code in DEFAULT_FOLDERS if rights(conn, actor, code)[1]]
            lots = conn.execute(select(schema.Lot.code, schema.Lot.name).where(
                schema.Lot.operation_code == operation_code).order_by(schema.Lot.code)).all()
        style = {"description_width": "140px"}
        layout = w.Layout(width="640px")
        self.title = w.Text(description="Titre", style=style, layout=layout,
                            placeholder="ce que contient le document (sans indice ni date)")
        self.description = w.Textarea(description="Description", style=style, layout=layout)
        self.folder = w.Dropdown(description="Dossier", style=style, layout=layout,
                                 options=[(DEFAULT_FOLDERS[c][0], c) for c in writable])
        self.discipline = w.Dropdown(description="Spécialité", style=style, layout=layout,
                                     options=[(f"{k} – {v}", k) for k, v in DISCIPLINES.items()])
        self.lot = w.Dropdown(description="Lot", style=style, layout=layout,
                              options=[("(aucun)", "")] + [(f"{c} – {n}", c) for c, n in lots])
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
            doc, index = deposit(
                self.engine, self.actor, operation_code=self.operation_code,
                title=self.title.value, folder_code=self.folder.value,
                discipline=self.discipline.value, file=file, lot_code=self.lot.value or None,
                description=self.description.value or None,
                format_exception=self.exception.value or None,
                recipients=[r for r in self.recipients.value.split(",") if r.strip()],
                now=self.now)
        except GesprokitError as exc:
            self.message.value = f"<span style='color:#b03a2e'>Refusé : {exc}</span>"
            return None
        self.message.value = f"<span style='color:#2e7d32'>Déposé : {doc}, indice {index}.</span>"
        return doc, index

    def widget(self) -> w.Widget:
        return w.VBox([self.title, self.description, self.folder, self.discipline, self.lot,
                       self.upload, self.exception, self.recipients, self.button, self.message])
