"""The service layer: every rule of modelbook, one module per aggregate.

Each service works on a :class:`~modelbook.services.base.Context` (database,
blob store, clock, version cache) and takes the acting user per call, so one
long-lived :class:`~modelbook.Registry` can serve many users. Front ends call
the registry facade, which delegates here; nothing here imports a front end.
"""
