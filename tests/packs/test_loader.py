"""Finding packs named by PODIUM_PACKS (modules and package directories), and the messages
an operator sees for one that cannot be loaded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.packs.base import Pack
from podium.packs.loader import PackLoadError, discover, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "guestbook"


@pytest.fixture
def packs_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for name in ("tinypack", "nopack", "twinpack", "not_a_pack"):
        sys.modules.pop(name, None)


def write_pack(folder: Path, name: str, body: str) -> Path:
    package = folder / name
    package.mkdir()
    (package / "__init__.py").write_text(body)
    return package


def test_a_package_directory_is_imported_by_its_name(packs_dir: Path) -> None:
    path = write_pack(packs_dir, "tinypack", "from podium.packs import Pack\npack = Pack('tiny')\n")
    [pack] = [p for p in discover([str(path)]) if p.name == "tiny"]  # shipped packs come too
    assert (pack.name, pack.source) == ("tiny", str(path))
    assert load_spec("tinypack").name == "tiny"  # importable by name once its folder is known


def test_the_example_pack_loads() -> None:
    pack = load_spec(str(EXAMPLE))
    assert pack.name == "guestbook" and len(pack.handlers) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: str(d / "missing"),
            "which is not a package directory (no __init__.py in it); give a directory "
            "holding __init__.py that defines pack",
        ),
        (
            lambda d: "no_such_module_anywhere",
            "PODIUM_PACKS names 'no_such_module_anywhere', which cannot be imported: No module "
            "named 'no_such_module_anywhere'; install it or give the path of its package "
            "directory",
        ),
        (
            lambda d: str(write_pack(d, "nopack", "x = 1\n")),
            "whose module defines no 'pack'; define pack = Pack(name=..., ...) in it",
        ),
        (
            lambda d: str(write_pack(d, "not_a_pack", "pack = 42\n")),
            "is not a pack: expected podium.packs.base.Pack, got int; define pack = "
            "Pack(name=..., ...)",
        ),
    ],
    ids=["no directory", "no module", "no pack", "not a Pack"],
)
def test_a_pack_that_cannot_load_says_why(packs_dir: Path, make: object, message: str) -> None:
    spec = make(packs_dir)  # type: ignore[operator]
    with pytest.raises(PackLoadError) as raised:
        discover([spec])
    assert message in raised.value.message


def test_two_packs_of_one_name_are_refused(packs_dir: Path) -> None:
    body = "from podium.packs import Pack\npack = Pack('guestbook')\n"
    twin = write_pack(packs_dir, "twinpack", body)
    with pytest.raises(PackLoadError) as raised:
        discover([str(EXAMPLE), str(twin)])
    assert raised.value.message.startswith("two packs are named 'guestbook': ")
    assert raised.value.message.endswith("remove one from PODIUM_PACKS (or uninstall it)")


def test_pack_names_and_handlers_are_checked() -> None:
    from podium.errors import InvalidInput
    from podium.packs.base import subscribe

    with pytest.raises(InvalidInput, match="1 to 32 lower-case letters"):
        Pack("Leads")

    async def plain(event: object, ctx: object) -> None: ...

    with pytest.raises(InvalidInput, match=r"is not decorated with @subscribe"):
        Pack("leads", handlers=[plain])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match=r"an event type is domain\.action"):
        subscribe("Lead Submitted")
    with pytest.raises(InvalidInput, match="@subscribe needs an event type"):
        subscribe()
