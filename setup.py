"""Build hook: compile proto/ into the package with grpcio-tools (no system protoc).

`pip install .` and `pip install -e .` both run it; the generated modules are never
checked in (tests/test_codegen.py proves that what is installed matches proto/).
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROTO_ROOT = ROOT / "proto"


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


class BuildPyWithProto(build_py):
    def run(self) -> None:
        super().run()
        # proto/gicmig/v1/x.proto becomes the module gicmig.v1.x_pb2
        generate(ROOT if self.editable_mode else Path(self.build_lib))


setup(cmdclass={"build_py": BuildPyWithProto})
