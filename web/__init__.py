"""The web app staff and supervisors use in a browser: server-rendered pages (FastAPI, Jinja2, htmx) served by the
API process beside its routes, over the same facade, with the same roles and problems. Every asset is served from
this package: nothing loads from outside the machine."""

from web.app import add_web
from web.config import WebConfig, web_config_for

__all__ = ["WebConfig", "add_web", "web_config_for"]
