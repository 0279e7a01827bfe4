"""The table of the message threads on library documents (gesprokit.document_messages).

Defined apart from gesprokit.schema, on the same ``Base``: gesprokit.db imports this module,
so ``create_all`` creates the table on a new base and on a base made by an older version
alike, and every engine's reader knows it. Its rows are sealed, each message as its own
group (as a situation's messages are): the module adds the table to gesprokit.seals' list,
so each message's event seals it and ``audit verify`` checks it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gesprokit import seals
from gesprokit.schema import Base


class DocumentMessage(Base):
    """A message of a document's thread, in its author's name."""

    __tablename__ = "document_message"
    __table_args__ = (Index("ix_document_message_document", "document_id"),)
    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.document_id"))
    author: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)


seals.SEALED.setdefault("document_message", ("document_message", ("message_id",), ()))
seals.GROUP_LABELS.setdefault("document_message", "message n°{0} sur un document")
