"""The relayer database's Alembic migration environment, shipped inside the package so an
installed relayer can upgrade its database without this source tree. Run it through
`relayer.migrate` (`relayer db upgrade`), never with an `alembic.ini`: `env.py` expects the
connection that `relayer.migrate` opens, locks and hands over."""
