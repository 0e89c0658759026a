"""The web app (Dash): a scenario editor and live results over the same run API as the CLI.

Modules: ``scenario`` (the edited scenario dict, TOML in and out, the kommune list),
``compute`` (runs through ``sim.run``), ``views`` (figures and tables), ``sweeps`` (finished
sweep folders), ``layout``/``ids``/``callbacks`` (the page), ``server`` (``create_app``),
``cli`` (``kommunesim serve`` and ``kommunesim export``). Importing this package imports no Dash.
"""
