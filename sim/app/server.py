"""The Dash application: ``create_app()`` for ``kommunesim serve`` or any WSGI server.

Behind a kommune's web server: ``gunicorn "sim.app.server:wsgi()"`` (each worker process
has its own result memo; sessions keep their state in the browser, so any worker can serve
any request).
"""

from __future__ import annotations

from pathlib import Path

import dash

from sim.app import callbacks
from sim.app.layout import STYLE, layout
from sim.app.scenario import available_kommuner

INDEX = """<!DOCTYPE html>
<html lang="nb">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>""" + STYLE + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""


def create_app(sweeps_root: str | Path | None = None) -> dash.Dash:
    """The app; ``sweeps_root``: folder whose finished sweeps users may open (None: none)."""
    app = dash.Dash(__name__, title="kommunesim", update_title=None,
                    assets_folder=str(Path(__file__).parent / "no-assets"))
    app.index_string = INDEX
    app.layout = layout(available_kommuner())
    callbacks.register(app, str(Path(sweeps_root).resolve()) if sweeps_root else None)
    return app


def wsgi(sweeps_root: str | None = None):
    """The WSGI callable (Flask server) of a new app, for gunicorn or mod_wsgi."""
    return create_app(sweeps_root).server
