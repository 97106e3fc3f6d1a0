"""A saas-license spoke for Quillpad, a made-up note-taking SaaS: the second spoke in the repo.

Written only against the public modules (``saas_license.spoke``, ``saas_license.http``,
``saas_license.testing``): members listed with cursor pagination, a paid ``pro`` plan reclaimed
by downgrading the member to the free ``basic`` plan, undone by upgrading back.
"""

__version__ = "0.1.0"

from .fake import API_KEY, quillpad_vendor
from .spoke import INFO, QuillpadSpoke

__all__ = ["API_KEY", "INFO", "QuillpadSpoke", "__version__", "quillpad_vendor"]
