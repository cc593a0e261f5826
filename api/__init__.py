"""The HTTP API of the trial: the operations of the one client facade, over FastAPI, with bearer tokens."""

from api.app import create_app
from security.auth import TokenAuthenticator, TokenEntry, hash_token

__all__ = ["TokenAuthenticator", "TokenEntry", "create_app", "hash_token"]
