"""Build what a real-KVM boot needs, into a cache outside the repository.

    python harness/kvm/build.py            # kernel + /init into the cache; prints the paths
    python harness/kvm/build.py --install  # first apt-get the tools (CI; needs root)

The cache (``$GICMIG_REALKVM_CACHE``, default ``~/.cache/gicmig-realkvm``) holds:

- ``kernel-<package>_<version>/vmlinuz``: Debian bookworm's arm64 Linux 6.1 kernel
  (``linux-image-6.1.0-<abi>-arm64-unsigned``, the newest ABI ``apt-cache`` knows), fetched
  through multiarch with ``apt-get download`` and unpacked with ``dpkg-deb -x``. It has
  ``CONFIG_KVM=y``, so booted at EL2 on a GICv2 with virtualization extensions it runs
  KVM with a vgic-v2.
- ``init-<sha256 of init.c, the compiler and its flags>/init``: ``init.c`` built with
  ``aarch64-linux-gnu-gcc -static``.

The initramfs (a newc cpio holding ``/init`` and the cases) is written per boot by
``driver.py`` with ``write_cpio`` below.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "init.c"
CC = "aarch64-linux-gnu-gcc"
CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-Werror")
QEMU = "qemu-system-aarch64"
KERNEL_SERIES = "6.1.0"
APT_PACKAGES = ("qemu-system-arm", "gcc-aarch64-linux-gnu")
APT = ("apt-get", "-o", "DPkg::Lock::Timeout=600")


class HarnessUnavailable(RuntimeError):
    """A tool or package the real-KVM harness needs is missing; the message says which."""


@dataclass(frozen=True)
class Artifacts:
    kernel: Path
    init: Path
    kernel_package: str


def cache_dir() -> Path:
    env = os.environ.get("GICMIG_REALKVM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gicmig-realkvm"


def _run(args: list[str] | tuple[str, ...], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload, no-any-return]


def install_tools() -> None:
    """apt-get the emulator, the cross compiler and arm64 multiarch (root; CI)."""
    _run(["dpkg", "--add-architecture", "arm64"])
    _run([*APT, "update", "-q"])
    _run([*APT, "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES])


def _kernel_package() -> str:
    """The newest Debian 6.1 arm64 kernel package apt knows (its ABI number changes)."""
    try:
        out = _run(["apt-cache", "search", "--names-only",
                    rf"^linux-image-{KERNEL_SERIES}-[0-9]+-arm64-unsigned$"]).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise HarnessUnavailable(f"apt-cache search failed: {exc}") from None
    names = re.findall(rf"^(linux-image-{re.escape(KERNEL_SERIES)}-(\d+)-arm64-unsigned) ",
                       out, re.M)
    if not names:
        raise HarnessUnavailable(
            "no linux-image-6.1.0-*-arm64-unsigned in apt's lists: run `dpkg "
            "--add-architecture arm64 && apt-get update` (or build.py --install)")
    return max(names, key=lambda n: int(n[1]))[0]


def fetch_kernel(cache: Path) -> tuple[Path, str]:
    pkg = _kernel_package()
    try:
        version = _run(["apt-cache", "show", "--no-all-versions", f"{pkg}:arm64"]).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise HarnessUnavailable(f"apt-cache show {pkg}:arm64 failed: {exc}") from None
    m = re.search(r"^Version: (\S+)", version, re.M)
    key = f"{pkg}_{m.group(1) if m else 'unknown'}"
    target = cache / f"kernel-{key}"
    vmlinuz = target / "vmlinuz"
    if vmlinuz.exists():
        return vmlinuz, key
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        try:
            _run(["apt-get", "download", f"{pkg}:arm64"], cwd=tmp)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise HarnessUnavailable(f"apt-get download {pkg}:arm64 failed: "
                                     f"{getattr(exc, 'stderr', exc)}") from None
        deb = next(Path(tmp).glob("*.deb"))
        _run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "root")])
        images = sorted((Path(tmp) / "root" / "boot").glob("vmlinuz-*"))
        if not images:
            raise HarnessUnavailable(f"{deb.name} holds no /boot/vmlinuz-*")
        staging = Path(tmp) / "out"
        staging.mkdir()
        shutil.copy2(images[0], staging / "vmlinuz")
        (staging / "SHA256").write_text(
            hashlib.sha256(deb.read_bytes()).hexdigest() + f"  {deb.name}\n")
        os.replace(staging, target)
    return vmlinuz, key


def build_init(cache: Path) -> Path:
    if shutil.which(CC) is None:
        raise HarnessUnavailable(f"{CC} not found (apt-get install gcc-aarch64-linux-gnu)")
    version = _run([CC, "--version"]).stdout
    digest = hashlib.sha256(SOURCE.read_bytes() + version.encode() + " ".join(CFLAGS).encode())
    target = cache / f"init-{digest.hexdigest()[:16]}"
    init = target / "init"
    if init.exists():
        return init
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        staging = Path(tmp) / "out"
        staging.mkdir()
        try:
            _run([CC, *CFLAGS, "-o", str(staging / "init"), str(SOURCE)])
        except subprocess.CalledProcessError as exc:
            raise HarnessUnavailable(f"{CC} failed on {SOURCE.name}:\n{exc.stderr}") from None
        os.replace(staging, target)
    return init


def build(cache: Path | None = None) -> Artifacts:
    """The kernel and /init, built or fetched once (raises HarnessUnavailable)."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if shutil.which(QEMU) is None:
        raise HarnessUnavailable(f"{QEMU} not found (apt-get install qemu-system-arm)")
    init = build_init(cache)
    kernel, key = fetch_kernel(cache)
    return Artifacts(kernel, init, key)


# --- the initramfs ---------------------------------------------------------------------------
_S_IFDIR, _S_IFREG, _S_IFCHR = 0o040000, 0o100000, 0o020000


def write_cpio(path: Path, files: dict[str, bytes]) -> None:
    """A newc cpio: /dev, /dev/console, then `files` (name -> content, mode 0755)."""
    entries: list[tuple[str, int, bytes, int, int]] = [
        ("dev", _S_IFDIR | 0o755, b"", 0, 0),
        ("dev/console", _S_IFCHR | 0o600, b"", 5, 1),
    ]
    entries += [(name, _S_IFREG | 0o755, data, 0, 0) for name, data in files.items()]
    entries.append(("TRAILER!!!", 0, b"", 0, 0))
    out = bytearray()
    for ino, (name, mode, data, major, minor) in enumerate(entries, 1):
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(raw), 0)
        out += b"070701" + b"".join(b"%08x" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    path.write_bytes(bytes(out))


def main(argv: list[str]) -> int:
    if "--install" in argv:
        install_tools()
    try:
        art = build()
    except HarnessUnavailable as exc:
        print(f"real-KVM harness unavailable: {exc}", file=sys.stderr)
        return 2
    print(f"kernel {art.kernel} ({art.kernel_package})\ninit   {art.init}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
