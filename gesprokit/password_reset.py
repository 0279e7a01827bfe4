"""Sending a password-reset code to the account's own address."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from gesprokit.errors import GesprokitError


def reset_message(email: str, code: str, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, email
    msg["Subject"] = "gesprokit : réinitialisation de votre mot de passe"
    msg.set_content(
        "Bonjour,\n\nUne réinitialisation du mot de passe de votre compte gesprokit a été "
        f"demandée par l'administrateur.\n\nCode à usage unique, valable 24 heures : {code}\n\n"
        "Saisissez-le sur la page de connexion (« J'ai reçu un code ») avec votre nouveau mot "
        "de passe. Si vous n'attendiez pas ce message, prévenez l'administrateur.\n")
    return msg


def send_reset_code(email: str, code: str, host: str, port: int, sender: str,
                    timeout: float = 10) -> None:
    """E-mail the code; a French error when the server cannot be reached."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.send_message(reset_message(email, code, sender))
    except (OSError, smtplib.SMTPException):
        raise GesprokitError(f"courriel non envoyé : le serveur {host}:{port} est injoignable "
                             "ou refuse l'envoi ; le code "
                             "reste valable, recommencez ou transmettez-le autrement") from None
