"""E-mail out of the box: the SMTP notifier and the notice templates it sends.

:class:`SmtpNotifier` is registered as the ``smtp`` notifier of a workspace whose settings name an
SMTP server (or a dry-run directory); :class:`NoticeTemplates` renders the plain-text and HTML
bodies, each template replaceable by a file in the ``notices.templates_dir`` setting. The SMTP
part (and :mod:`smtplib`) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._templates import TEMPLATE_NAMES, NoticeTemplates

if TYPE_CHECKING:
    from ._smtp import SmtpNotifier, SmtpSettings, build_message

__all__ = ["TEMPLATE_NAMES", "NoticeTemplates", "SmtpNotifier", "SmtpSettings", "build_message"]


def __getattr__(name: str) -> Any:
    if name in ("SmtpNotifier", "SmtpSettings", "build_message"):
        from . import _smtp

        return getattr(_smtp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
