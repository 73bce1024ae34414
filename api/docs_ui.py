"""`/docs`: Swagger UI served from this server, so the API reference works offline.

FastAPI's own page loads Swagger UI from a CDN and shows nothing without the internet. The
assets come from the `swagger-ui-py` package (Swagger UI 5, which reads OpenAPI 3.1, with
its Apache-2.0 licence at `/docs/assets/LICENSE`); nothing of the page leaves this origin.
ReDoc, which FastAPI also serves from a CDN, is not offered.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS = Path(str(importlib.resources.files("swagger_ui") / "static"))


def install(app: FastAPI) -> None:
    """Serve `/docs` and its assets (the app is created with `docs_url=None`)."""
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} — docs",
            swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png",
            # No badge from the public validator service: the page stays on this origin.
            swagger_ui_parameters={"validatorUrl": None})
