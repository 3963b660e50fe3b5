"""Build hook: compile proto/ into the package with grpcio-tools (no system protoc).

`pip install .` and `pip install -e .` both run it; the generated modules are never
checked in (tests/test_codegen.py proves that what is installed matches proto/).
Beside them goes the digest of proto/ they were made from (gicmig/core/pb.py compares it
when a source tree without generated code borrows the installed ones), and a built
package gets the docs its help texts name, as gicmig/docs/*.md.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROTO_ROOT = ROOT / "proto"
DOCS = ROOT / "docs"


def proto_digest(proto_root: Path) -> str:
    """sha256 over proto/'s .proto files, names and contents (gicmig/core/pb.py has the
    same function: setup.py cannot import the package it builds)."""
    h = hashlib.sha256()
    for p in sorted(proto_root.rglob("*.proto")):
        h.update(p.relative_to(proto_root).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def generate(out_root: Path) -> None:
    from grpc_tools import protoc  # build requirement, see pyproject.toml

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        sys.exit("gicmig: protobuf code generation failed")
    (out_root / "gicmig" / "v1" / "proto.sha256").write_text(proto_digest(PROTO_ROOT) + "\n")


class BuildPyWithProto(build_py):
    def run(self) -> None:
        super().run()
        # proto/gicmig/v1/x.proto becomes the module gicmig.v1.x_pb2
        generate(ROOT if self.editable_mode else Path(self.build_lib))
        if not self.editable_mode:  # an editable install reads docs/ where it is
            target = Path(self.build_lib) / "gicmig" / "docs"
            target.mkdir(parents=True, exist_ok=True)
            for doc in sorted(DOCS.glob("*.md")):
                shutil.copyfile(doc, target / doc.name)


setup(cmdclass={"build_py": BuildPyWithProto})
