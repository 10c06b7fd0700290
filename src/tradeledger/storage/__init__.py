"""Storage adapters: the only package that imports SQLAlchemy and Alembic."""
