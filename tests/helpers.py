"""Helpers for tests that inspect the stored state directly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from challenge_service import DATABASE_NAME


def stored_rows(app) -> dict[str, list[tuple]]:
    """Return every row of every table of the app's SQLite store."""
    path = Path(app.config["DATA_DIR"]) / DATABASE_NAME
    connection = sqlite3.connect(path)

    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall())
            for table in tables
        }
    finally:
        connection.close()
