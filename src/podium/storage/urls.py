"""Database URLs: what the user writes, what each driver needs."""

from pathlib import Path

from podium.errors import InvalidInput


def dialect(url: str) -> str:
    """`sqlite` or `postgresql`; anything else is refused with what to write instead."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("sqlite", "postgresql", "postgres"):
        return "postgresql" if scheme == "postgres" else scheme
    raise InvalidInput(
        f"database URL {url!r} is not supported: use sqlite:///path/to/podium.db or "
        "postgresql://user:password@host:port/database"
    )


def sqlite_path(url: str) -> Path:
    """The file of `sqlite:///relative.db` or `sqlite:////absolute.db`."""
    rest = url.split(":", 1)[1]
    if not rest.startswith("///"):
        raise InvalidInput(f"database URL {url!r} names no file: write sqlite:///podium.db")
    return Path(rest[3:])


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{path}"


def async_url(url: str) -> str:
    """The SQLAlchemy URL with the async driver (aiosqlite or asyncpg)."""
    kind = dialect(url)
    rest = url.split(":", 1)[1]
    if kind == "sqlite":
        return f"sqlite+aiosqlite:{rest}"
    return f"postgresql+asyncpg:{rest}"


def asyncpg_dsn(url: str) -> str:
    """The DSN asyncpg takes (`postgresql://…`, without a SQLAlchemy driver suffix)."""
    return "postgresql:" + url.split(":", 1)[1]
