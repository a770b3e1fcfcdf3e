"""``tdm serve``: the REST API over one tdm repository (the optional extra ``tdm[server]``).

Layering, as in the original service brief: :mod:`tdm.server.api` (routers) calls
:mod:`tdm.server.services`, which call tdm's core (the same functions the CLI uses)
and write through :mod:`tdm.gitio` only; :mod:`tdm.server.models` holds the pydantic
request and response bodies.  Only :mod:`tdm.server.tokens` works without FastAPI.
"""
