"""One error base class; each subclass's docstring is its default message.

The CLI turns every :class:`OutreachError` into one line on stderr and exit code 1.
Anything else is a programming error and keeps its traceback.
"""

from __future__ import annotations


class OutreachError(Exception):
    """outreach failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class SettingsError(OutreachError):
    """The settings are invalid."""


class DatabaseError(OutreachError):
    """The database could not be used."""


class NotFoundError(OutreachError):
    """No such object."""


class IllegalTransition(OutreachError):
    """That state change is not allowed."""


class ConcurrentUpdate(OutreachError):
    """The row was changed by someone else in the meantime."""


class CampaignFileError(OutreachError):
    """The campaign file is invalid."""


class ContactImportError(OutreachError):
    """The contacts file is invalid."""


class TemplateError(OutreachError):
    """A template failed to compile or render."""


class PastStepError(OutreachError):
    """The step's date is past: it will not be planned."""


class ReviewError(OutreachError):
    """The review action was refused."""


class HeaderInjectionError(OutreachError):
    """A header value contains characters that could inject headers."""


class ComposeError(OutreachError):
    """The message could not be composed."""


class AttachmentError(OutreachError):
    """An attachment could not be made (a letter that fails to print, a file changed or gone)."""


class DispatchError(OutreachError):
    """Dispatch failed."""


class SmtpAuthError(DispatchError):
    """The SMTP server refused our credentials (535); messages stay approved."""


class SmtpTlsError(DispatchError):
    """The TLS handshake with the SMTP server failed."""


class IntakeError(OutreachError):
    """Reply intake failed."""


class ImapError(IntakeError):
    """The IMAP server could not be used."""


class ReclassifyError(OutreachError):
    """The reclassification was refused."""


class SuppressionError(OutreachError):
    """The suppression change was refused."""
