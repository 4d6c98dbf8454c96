"""Sending one notification: a mail through the practice's server, or one HTTP push.

Both are blocking standard-library calls (smtplib, http.client) that the
notifier runs in its own threads, so a slow mail server or push receiver
never holds up the event loop and with it the relay. Each has the practice's
`notify_timeout` for connecting and for every answer. A push request follows
no redirect (http.client never does) and reads at most a little of the answer.

What leaves the server is the practice's fixed wording and nothing else: no
account, no client, no time of the message, no count. Headers are the ones
the protocols need. A failure raises `DeliveryError`, whose text names the
step that failed and never the address.
"""

import http.client
import smtplib
import ssl
import urllib.parse
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from server.config import Settings

MAX_ANSWER_BYTES = 4096


class DeliveryError(Exception):
    """The mail server or push receiver did not take the notification."""


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def compose_mail(settings: Settings, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = settings.notify_subject
    # In UTC: a local zone would say where the server is.
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(settings.notify_text)
    return message


def send_mail(settings: Settings, to: str) -> None:
    message = compose_mail(settings, to)
    timeout = settings.notify_timeout
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if settings.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=context)
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError("the mail server refused the address") from None
    except smtplib.SMTPException as error:
        raise DeliveryError(f"the mail server refused the mail ({type(error).__name__})") from None
    except (OSError, ssl.SSLError) as error:
        raise DeliveryError(f"the mail server cannot be reached ({type(error).__name__})") from None


def send_push(settings: Settings, url: str) -> None:
    """POST the wording to `url`, which the caller has checked (notification_targets)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    timeout = settings.notify_timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    body = settings.notify_text.encode()
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": "Quietline"},
        )
        response = conn.getresponse()
        response.read(MAX_ANSWER_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        reason = type(error).__name__
        raise DeliveryError(f"the push address cannot be reached ({reason})") from None
    finally:
        conn.close()
    if not 200 <= status < 300:
        # A redirect is a refusal too: following it would send the request
        # to an address nobody checked.
        raise DeliveryError(f"the push address answered HTTP {status}")
