"""What an installed package needs beside its code (issue 14): the docs its help texts
name, generated code that matches proto/, and the extra that compiles .proto folders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from gicmig.cli import build_parser, docs_dir
from gicmig.core import pb as pb_module

ROOT = Path(__file__).resolve().parents[1]


def test_every_doc_named_by_the_package_exists_where_help_says() -> None:
    named = {m for p in (ROOT / "gicmig").rglob("*.py")
             for m in re.findall(r"docs/([a-z0-9-]+\.md)", p.read_text())}
    assert {"kvm.md", "gich.md", "diff.md", "html.md"} <= named
    missing = sorted(n for n in named if not (Path(docs_dir()) / n).is_file())
    assert not missing, f"named in gicmig/ but not in {docs_dir()}: {missing}"
    assert f"docs/NAME.md named in help texts: {docs_dir()}" in build_parser().format_help()


def test_generated_code_is_stamped_with_the_proto_it_was_made_from() -> None:
    stamp = Path(pb_module.pb.__file__).with_name("proto.sha256")
    assert stamp.read_text().strip() == pb_module.proto_digest(ROOT / "proto")
    # the digest covers names and contents
    assert pb_module.proto_digest(ROOT / "proto") != pb_module.proto_digest(ROOT / "docs")


def test_a_source_tree_without_generated_code_borrows_or_says_how_to_build(
        tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "gicmig", tree / "gicmig",
                    ignore=shutil.ignore_patterns("*_pb2.py*", "proto.sha256", "__pycache__"))
    shutil.copytree(ROOT / "proto", tree / "proto")
    (tree / "proto" / "gicmig" / "v1" / "gicmig.proto").write_text(
        (ROOT / "proto" / "gicmig" / "v1" / "gicmig.proto").read_text() + "\n// edited\n")
    run = subprocess.run([sys.executable, "-c", "import gicmig.core.pb"], cwd=tree,
                         capture_output=True, text=True, check=False)
    # an editable install has no generated code to lend; a built one was made from the
    # unedited proto/: either way the tree may not use it
    assert run.returncode == 1
    assert "pip install -e ." in run.stderr.strip().splitlines()[-1]


def test_the_gicmig_under_test_is_the_installed_one_when_ci_says_so() -> None:
    # .ci/run's lowest-protobuf block runs these tests against an sdist installed in a venv
    # (GICMIG_EXPECT_INSTALLED names it): they must not import the checkout instead
    import gicmig

    venv = os.environ.get("GICMIG_EXPECT_INSTALLED")
    where = Path(gicmig.__file__).resolve()
    if venv is None:
        assert where.parent.name == "gicmig"
    else:
        assert where.is_relative_to(Path(venv).resolve()), where
        assert Path(pb_module.pb.__file__).resolve().is_relative_to(Path(venv).resolve())
