"""Issue 13, files gicmig was not given: a GICH view's distributor.path reads only a
regular file below the view's folder; `import gich -o` never overwrites that image;
`schema check` never follows a .proto out of its folder nor blocks on a FIFO."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hostile_support import digest, gicmig, refused

from gicmig.errors import GicmigError
from gicmig.formats.io import load
from gicmig.views.gich.viewfile import parse_view

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "fixtures/v1/busy.json"


def _view(folder: Path, distributor: str) -> Path:
    """busy's GICH view in `folder`, naming its distributor image `distributor`."""
    out = folder / "view.json"
    status = gicmig("export", "gich", str(BUSY), "--distributor", "fixture", "-o", str(out))
    assert status.status == 0, status.stderr
    doc = json.loads(out.read_text())
    doc["distributor"] = {"path": distributor}
    out.write_text(json.dumps(doc))
    return out


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/secret.json (outside) and tmp/views/ (the view's folder) holding busy.json."""
    (tmp_path / "views").mkdir()
    shutil.copy(BUSY, tmp_path / "secret.json")
    shutil.copy(BUSY, tmp_path / "views" / "busy.json")
    return tmp_path / "views"


def test_a_distributor_below_the_folder_is_read(layout: Path) -> None:
    (layout / "sub").mkdir()
    shutil.copy(BUSY, layout / "sub" / "img.json")
    os.symlink("sub/img.json", layout / "link.json")  # a symlink that stays inside: fine
    for name in ("busy.json", "sub/img.json", "./sub/../busy.json", "link.json"):
        view = _view(layout, name)
        state = parse_view(view.read_bytes(), base_dir=str(layout)).distributor
        assert state == load(BUSY.read_bytes()), name


@pytest.mark.parametrize("name, why", [
    ("../secret.json", "outside the folder"),
    ("sub/../../secret.json", "outside the folder"),
    ("out.json", "outside the folder"),  # a symlink out of the folder
    ("/etc/passwd", "relative to the view's directory"),
    ("fifo.json", "not a regular file"),
    ("zero.json", "outside the folder"),  # a symlink to /dev/zero
    ("dir", "not a regular file"),
    ("missing.json", "No such file"),
])
def test_a_distributor_elsewhere_is_refused(layout: Path, name: str, why: str) -> None:
    os.symlink(layout.parent / "secret.json", layout / "out.json")
    os.symlink("/dev/zero", layout / "zero.json")
    os.mkfifo(layout / "fifo.json")  # no writer: an open without O_NONBLOCK would hang
    (layout / "dir").mkdir()
    (layout / "sub").mkdir()
    view = _view(layout, name)
    with pytest.raises(GicmigError) as exc:
        parse_view(view.read_bytes(), base_dir=str(layout))
    assert why in exc.value.message
    assert exc.value.code == ("GICH-VIEW-SCHEMA" if name.startswith("/") else "IO-READ")
    line = refused(gicmig("import", "gich", str(view), "-o", str(layout.parent / "o.gicmig")),
                   exc.value.code)
    assert why in line
    assert not (layout.parent / "o.gicmig").exists()


def test_import_gich_never_overwrites_the_distributor_image(layout: Path) -> None:
    view = _view(layout, "busy.json")
    before = digest(view, layout / "busy.json")
    for target in (layout / "busy.json", layout / "sub" / ".." / "busy.json"):
        (layout / "sub").mkdir(exist_ok=True)
        line = refused(gicmig("import", "gich", str(view), "-o", str(target)), "USAGE")
        assert "distributor image the view names" in line
    os.symlink(layout / "busy.json", layout.parent / "alias.json")  # the same file by a link
    refused(gicmig("import", "gich", str(view), "-o", str(layout.parent / "alias.json")),
            "USAGE")
    assert digest(view, layout / "busy.json") == before
    ok = gicmig("import", "gich", str(view), "-o", str(layout / "new.gicmig"))
    assert ok.status == 0, ok.stderr
    assert load((layout / "new.gicmig").read_bytes()) == load(BUSY.read_bytes())


def _proto_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", folder)
    return folder


@pytest.mark.parametrize("kind", ["symlink-out", "fifo", "dev-zero"])
def test_schema_check_refuses_protos_that_are_not_files_of_the_folder(
        tmp_path: Path, kind: str) -> None:
    import grpc_tools  # noqa: F401  # the test extra has it (gicmig[schema]): no silent skip
    folder = _proto_folder(tmp_path)
    (tmp_path / "outside.proto").write_text('syntax = "proto3";\npackage x;\n')
    bad = folder / "gicmig" / "v1" / "zz_extra.proto"
    if kind == "symlink-out":
        os.symlink(tmp_path / "outside.proto", bad)
    elif kind == "fifo":
        os.mkfifo(bad)
    else:
        os.symlink("/dev/zero", bad)
    line = refused(gicmig("schema", "check", str(folder)), "SCHEMA-INPUT")
    assert "gicmig/v1/zz_extra.proto is not a regular file inside the folder" in line


def test_schema_check_still_follows_a_symlink_inside_the_folder(tmp_path: Path) -> None:
    import grpc_tools  # noqa: F401  # the test extra has it (gicmig[schema]): no silent skip
    folder = _proto_folder(tmp_path)
    (folder / "extra").mkdir()
    (folder / "extra" / "x.proto").write_text('syntax = "proto3";\npackage x;\n'
                                              "message X { int32 a = 1; }\n")
    os.symlink("../../extra/x.proto", folder / "gicmig" / "v1" / "zz_link.proto")
    ok = gicmig("schema", "check", str(folder))
    assert "SCHEMA-INPUT" not in ok.stderr and "INTERNAL-ERROR" not in ok.stderr, ok.stderr
