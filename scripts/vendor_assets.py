"""Vendor the pages' front-end assets from the npm registry, at pinned versions.

    python scripts/vendor_assets.py            # fetch, check, write into the package
    python scripts/vendor_assets.py --check    # are the vendored files the pinned ones?

Each package is fetched with `npm pack` (from the registry npm is configured with), its
tarball checked against the pinned sha512 integrity, and the few files the pages use
copied into src/promiseline/web/static/vendor with its licence. Nothing is fetched at
run time: the files ship inside the package. To update: change a version and its
integrity (`npm view PACKAGE@VERSION dist.integrity`), run this, commit the result.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src/promiseline/web/static/vendor"
PINNED = {
    "htmx.org": (
        "2.0.11",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "htmx.LICENSE"},
    ),
    "uplot": (
        "1.6.32",
        "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        {
            "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
            "package/dist/uPlot.min.css": "uPlot.min.css",
            "package/LICENSE": "uPlot.LICENSE",
        },
    ),
}


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(name: str, version: str, expected: str, tmp: Path) -> Path:
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(tmp)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = tmp / json.loads(out.stdout)[0]["filename"]
    got = integrity(tarball.read_bytes())
    if got != expected:
        sys.exit(f"{name}@{version}: integrity {got} is not the pinned {expected}")
    return tarball


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare, write nothing")
    args = ap.parse_args()
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, expected, wanted) in PINNED.items():
            with tarfile.open(fetch(name, version, expected, Path(tmp))) as tar:
                for member, target in wanted.items():
                    extracted = tar.extractfile(member)
                    if extracted is None:
                        sys.exit(f"{name}@{version}: no file {member} in the tarball")
                    data = extracted.read()
                    files[target] = hashlib.sha256(data).hexdigest()
                    path = VENDOR / target
                    if args.check:
                        if not path.is_file() or path.read_bytes() != data:
                            sys.exit(f"{path}: not the file of {name}@{version}")
                    else:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(data)
    manifest = {
        "packages": {n: {"version": v, "integrity": i} for n, (v, i, _) in PINNED.items()},
        "files_sha256": files,
    }
    text = json.dumps(manifest, indent=2) + "\n"
    if args.check:
        if (VENDOR / "VERSIONS.json").read_text() != text:
            sys.exit("VERSIONS.json differs from the pinned packages")
        print("vendored assets are the pinned ones")
    else:
        (VENDOR / "VERSIONS.json").write_text(text)
        print(f"vendored {len(files)} files into {VENDOR}")


if __name__ == "__main__":
    main()
