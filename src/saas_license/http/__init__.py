"""The HTTP toolkit shared by spokes: client factory, auth, error mapping. Only this layer imports httpx."""

from ._auth import BearerAuth
from ._client import HttpOptions, make_client, request_json
from ._errors import error_from_response, extract_error_message

__all__ = [
    "BearerAuth",
    "HttpOptions",
    "error_from_response",
    "extract_error_message",
    "make_client",
    "request_json",
]
