"""The dashboard's web application (Starlette): HTML shells, a JSON API, its own assets, nothing else.

Every page is a fixed HTML shell that holds no data; its script fetches the JSON API and puts every
string into the page as text (``textContent``), so a name, parameter or error message that came from a
user or a plugin is never markup. A strict Content-Security-Policy (scripts from this server only, no
inline script) is the second guard. Only the files in :data:`ASSETS` and Plotly's own bundle are
served, looked up by name in a fixed table: no request path ever reaches the file system.

With a token (a non-local ``--host``), every request must carry it: ``?token=`` once (it becomes a
cookie), the cookie, or an ``Authorization: Bearer`` header; anything else is 401.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from optbench.api import ConfigError
from optbench.dashboard import data
from optbench.dashboard.readonly import ReadOnlyStore
from optbench.report.jsonout import dumps

ASSETS = {"app.js": "text/javascript", "plots.js": "text/javascript", "pages.js": "text/javascript",
          "style.css": "text/css", "page.html": "text/html"}
COOKIE = "optbench_dashboard"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def _asset_bytes() -> dict[str, tuple[bytes, str]]:
    """Every file the dashboard serves, read once: its own assets and Plotly's bundle from the plotly wheel."""
    folder = resources.files("optbench.dashboard") / "assets"
    out = {name: ((folder / name).read_bytes(), kind) for name, kind in ASSETS.items()}
    plotly = resources.files("plotly") / "package_data" / "plotly.min.js"
    out["plotly.min.js"] = (plotly.read_bytes(), "text/javascript")
    return out


class Guard:
    """ASGI middleware: the access token (when one is set) and the security headers of every response."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app, self.token = app, token

    def _allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = [request.cookies.get(COOKIE, ""), request.query_params.get("token", "")]
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        return any(g and secrets.compare_digest(g.encode(), self.token.encode()) for g in given)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response: Response | None = None
        if not self._allowed(request):
            response = PlainTextResponse("an access token is required: open the address the dashboard printed",
                                         status_code=401)
        elif self.token is not None and request.query_params.get("token"):
            # once: the token becomes a cookie and leaves the address bar (and the history)
            response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        if response is not None:
            response.headers.update(HEADERS)
            await response(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in
                           {h.lower() for h in HEADERS}]
                message["headers"] = headers + [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
            await send(message)

        await self.app(scope, receive, with_headers)


def _json(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json")


def create_app(store: ReadOnlyStore, *, history: Path, token: str | None = None, local: bool = True,
               poll_seconds: float = 2.0) -> Starlette:
    """The application over one store (already checked with :func:`~optbench.dashboard.readonly.open_checked`).

    Args:
        history: the history file (``reports/history.jsonl``) the History page reads, if it exists.
        token: required of every request when given.
        local: bound to a loopback address: then only requests addressed to a local host name are served
            (a web page elsewhere cannot reach the dashboard through DNS rebinding).
        poll_seconds: how often an open page asks whether the store changed.
    """
    assets = _asset_bytes()
    shell = assets["page.html"][0]

    def blocking(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def page(request: Request) -> Response:
        return Response(shell, media_type="text/html")

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None or request.path_params["name"] == "page.html":
            return PlainTextResponse("not found", status_code=404)
        return Response(found[0], media_type=found[1])

    async def api_config(request: Request) -> Response:
        return _json({"store": str(store.path), "poll_ms": int(poll_seconds * 1000), "history": str(history)})

    async def api_changes(request: Request) -> Response:
        return _json({"token": await blocking(data.changes, store)})

    async def api_runs(request: Request) -> Response:
        return _json(await blocking(data.overview, store))

    def _run(run_id: int, chosen: dict[str, list[str]], taus: list[float] | None) -> dict[str, Any]:
        meta, results = data.run_results(store, run_id)
        shown = {k: v for k, v in meta.items() if k != "payload"}
        if meta["study"] is not None:
            return {"run": shown, "study": data.study_view(meta)}
        if not results:
            return {"run": shown, "comparison": None}
        return {"run": shown, "comparison": data.comparison_view(results, chosen, taus)}

    async def api_run(request: Request) -> Response:
        chosen = {f: request.query_params.getlist(f) for f in data.FILTERS}
        taus = None
        if request.query_params.get("tau"):
            from optbench.cli.common import taus as parse_taus

            try:
                taus = parse_taus(request.query_params["tau"])
            except Exception as exc:  # argparse's ArgumentTypeError: the same words as the CLI's
                return _json({"error": str(exc)}, 400)
        return await _answer(_run, int(request.path_params["run_id"]), chosen, taus)

    def _summary(run_id: int) -> str:
        from optbench.analysis import analyze
        from optbench.report.export import summary

        meta, results = data.run_results(store, run_id)
        if meta["study"] is not None or not results:
            raise LookupError(f"run {run_id} has no comparison summary")
        return summary(analyze(results), "json")

    async def api_summary(request: Request) -> Response:
        """Exactly what ``optbench report --run N --format json`` prints for the run."""
        try:
            text = await blocking(_summary, int(request.path_params["run_id"]))
        except LookupError as exc:
            return _json({"error": str(exc)}, 404)
        return Response(text, media_type="application/json")

    def _diff(base: int, cand: int) -> dict[str, Any]:
        a_meta, a = data.run_results(store, base)
        b_meta, b = data.run_results(store, cand)
        if a_meta["study"] or b_meta["study"]:
            raise LookupError("a study's run has no regression check; pick two comparison runs")
        return {"base": {k: v for k, v in a_meta.items() if k != "payload"},
                "candidate": {k: v for k, v in b_meta.items() if k != "payload"},
                "check": data.diff_view(a, b, data.GATE_DEFAULTS)}

    async def api_diff(request: Request) -> Response:
        return await _answer(_diff, int(request.path_params["base"]), int(request.path_params["cand"]))

    async def api_history(request: Request) -> Response:
        return await _answer(data.history_view, history, request.query_params.get("machine"))

    async def _answer(fn: Callable[..., Any], *args: Any) -> Response:
        try:
            return _json(await blocking(fn, *args))
        except LookupError as exc:
            return _json({"error": str(exc.args[0])}, 404)
        except ConfigError as exc:
            return _json({"error": str(exc)}, 409)

    routes = [
        Route("/", page), Route("/run/{run_id:int}", page), Route("/diff/{base:int}/{cand:int}", page),
        Route("/history", page),
        Route("/assets/{name:path}", asset),
        Route("/api/config", api_config), Route("/api/changes", api_changes), Route("/api/runs", api_runs),
        Route("/api/runs/{run_id:int}", api_run), Route("/api/runs/{run_id:int}/summary", api_summary),
        Route("/api/diff/{base:int}/{cand:int}", api_diff), Route("/api/history", api_history),
    ]
    middleware = [Middleware(Guard, token=token)]
    if local:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS))
    return Starlette(routes=routes, middleware=middleware)
