"""The document opened on « Documents et visas »: its link, its first pages shown in the
page, its message thread and a « Répondre » box. Everything is read through the library's
read permission (gesprokit.library.actions.open_version, readable_document), again at each
click: a page left open after a right was withdrawn shows nothing more."""

from __future__ import annotations

import base64
import mimetypes
from datetime import datetime
from pathlib import PurePosixPath

import ipywidgets as w
import pandas as pd

from gesprokit.document_messages import document_thread, post_document_message
from gesprokit.library.actions import OpenedFile, open_version
from gesprokit.library.preview import PreviewUnavailable, is_pdf, render_pages
from gesprokit.messages import MAX_MESSAGE
from gesprokit.months import format_date_fr
from gesprokit.session import Session
from gesprokit.ui.common import STYLE, download_link, esc, guarded

IMAGE_STYLE = "max-width:100%;border:1px solid #ccc;margin:6px 0;display:block"


def file_link(opened: OpenedFile) -> str:
    """The download link of the opened version, under its stored name and type."""
    mime = "application/pdf" if is_pdf(opened.content) else (
        mimetypes.guess_type(opened.file_name)[0] or "application/octet-stream")
    suffix = PurePosixPath(opened.file_name).suffix
    return download_link(f"{opened.document_id}-{opened.revision_index}{suffix}",
                         opened.content,
                         f"Ouvrir {opened.document_id} indice {opened.revision_index} "
                         f"({opened.file_name})", mime)


def preview_html(opened: OpenedFile) -> str:
    """The link, then the first pages as images (« N pages de plus : ouvrez le PDF » when
    there are more); a file that is not a PDF, or a PDF that cannot be read, gets a line
    saying so and keeps its link."""
    link = f"<p>{file_link(opened)}</p>"
    if not is_pdf(opened.content):
        return (link + "<p><i>Aperçu impossible : ce document n'est pas un PDF "
                f"({esc(opened.file_name)}) ; ouvrez-le avec le lien ci-dessus.</i></p>")
    try:
        preview = render_pages(opened.content)
    except PreviewUnavailable as exc:
        return link + f"<p><i>Aperçu impossible : {esc(str(exc))} ; ouvrez le PDF.</i></p>"
    pages = "".join(
        f"<img alt='Page {k} sur {preview.total}' style='{IMAGE_STYLE}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
        for k, png in enumerate(preview.pages, start=1))
    more = "" if preview.more <= 0 else (
        f"<p><i>{preview.more} page{'s' if preview.more > 1 else ''} de plus : ouvrez le "
        "PDF.</i></p>")
    return link + pages + more


def thread_html(messages: pd.DataFrame) -> str:
    """The thread, oldest first, every text escaped."""
    shown = "".join(
        f"<p style='margin:4px 0'><b>{esc(r.author)}</b> ({esc(r.role)}), le "
        f"{format_date_fr(r.at)} à {pd.Timestamp(r.at):%H:%M} :<br>"
        f"{esc(r.body).replace(chr(10), '<br>')}</p>" for r in messages.itertuples())
    return "<b>Messages sur ce document</b>" + (
        shown or "<p><i>Aucun message : écrivez le premier ci-dessous.</i></p>")


class DocumentViewer:
    """The opened document and its thread; `message` receives the French outcome."""

    def __init__(self, session: Session, message: w.HTML, now: datetime | None = None):
        self.session, self.message, self.now = session, message, now
        self.document_id: str | None = None
        self.opened = w.HTML()
        self.thread = w.HTML()
        self.reply = w.Textarea(description="Votre message", style=STYLE,
                                placeholder=f"{MAX_MESSAGE} caractères au plus",
                                layout=w.Layout(width="720px", height="70px"))
        self.send = w.Button(description="Répondre", layout=w.Layout(width="fit-content"))
        self.send.on_click(lambda _b: self.post())
        self.discussion = w.VBox([self.thread, self.reply, self.send],
                                 layout=w.Layout(display="none"))

    def open(self, document_id: str) -> OpenedFile | None:
        """Show the document's last index (link and first pages) and its thread."""
        def act():
            self.session.check_account()
            opened = open_version(self.session.engine, self.session.actor, document_id)
            return opened, document_thread(self.session.engine, self.session.actor,
                                           document_id)

        def shown(result) -> None:
            opened, messages = result
            self.document_id = document_id
            self.opened.value = preview_html(opened)
            self.thread.value = thread_html(messages)
            self.discussion.layout.display = "flex"
        self.clear()
        result = guarded(act, self.message, "", shown)
        return None if result is None else result[0]

    def clear(self) -> None:
        """Forget the opened document (another one chosen, or a refusal)."""
        self.document_id = None
        self.opened.value = self.thread.value = ""
        self.discussion.layout.display = "none"

    def post(self) -> int | None:
        """Write the reply in the account's name, then show the thread as it now stands."""
        if self.document_id is None:
            return None
        document_id = self.document_id

        def act():
            self.session.check_account()
            return post_document_message(self.session.engine, self.session.actor,
                                         document_id, self.reply.value, now=self.now)

        def then(_message_id) -> None:
            self.reply.value = ""
            self.thread.value = thread_html(document_thread(
                self.session.engine, self.session.actor, document_id))
        return guarded(act, self.message, "Message envoyé ; les lecteurs du document en sont "
                                          "informés.", then)

    def widget(self) -> w.Widget:
        return w.VBox([self.opened, self.discussion])
