"""The SQL store: tables (`models`), one repository per unit of work (`repo`), the
database and its Alembic migrations (`db`)."""
