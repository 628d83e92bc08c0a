"""The course's fixed text corpus: CPython's standard library source, byte for byte, split by file.

    python -m fsc_teach.corpus build     # rebuild fsc_teach/corpora/ from this Python's stdlib (the pinned version)
    python -m fsc_teach.corpus verify    # the committed files against the manifest's sha256

Every machine and Python version must see the same bytes, so the text is not read from the local stdlib at run time:
it was built once from CPython 3.11.7 and committed compressed (xz) in ``fsc_teach/corpora/``, with the PSF licence
under which the Python source is distributed (``LICENSE-PSF.txt``) and a manifest (``manifest.json``) that lists
every file, its split, its size and sha256, and the sha256 of each split. ``text.load_split`` reads them.

* **Files**: the stdlib's top-level ``*.py`` modules of at most ``MAX_FILE_BYTES`` bytes, in sorted order, less
  ``EXCLUDED`` (the build machine's configuration, ``stringprep``'s Unicode tables), pinned by name in the
  manifest: a rebuild uses the manifest's list.
* **Splits, by file**: ``split_of(name)`` from the file name's sha256, so a module is in exactly one split and the
  assignment does not depend on which other files exist: ``"validation"``, ``"calibration"`` and ``"train"``.
* **Out of domain**: ``"prose"``, the English in the calibration files — their docstrings (``ast``) and comments
  (``tokenize``) without the code — so one can ask whether calibrating on prose instead of code changes a
  compressed model.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import lzma
import platform
import re
import sys
import sysconfig
import tokenize
from pathlib import Path

from . import validate
from .checkpoint import atomic_write_bytes

__all__ = ["CORPUS_DIR", "SPLITS", "CODE_SPLITS", "PYTHON", "split_of", "select_files", "prose", "build", "verify"]

CORPUS_DIR = Path(__file__).parent / "corpora"
MANIFEST = "manifest.json"
LICENSE = "LICENSE-PSF.txt"
CODE_SPLITS = ("train", "validation", "calibration")
SPLITS = CODE_SPLITS + ("prose",)
PYTHON = "3.11.7"  # the CPython whose stdlib the committed corpus was built from
MAX_FILE_BYTES = 80_000
#: name prefixes left out: generated at the build machine's configure time (its paths and compilers); Unicode tables
EXCLUDED = ("_sysconfigdata_", "stringprep")
_WORDS = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")  # a comment with two words in a row is prose, not a code fragment


def split_of(name: str) -> str:
    """The split of stdlib file ``name``: its sha256 modulo 20 — 0 validation, 1 calibration, else train (~5/5/90 %)."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 20
    return {0: "validation", 1: "calibration"}.get(bucket, "train")


def select_files(stdlib: Path) -> list[str]:
    """The rule that chose the committed list: sorted top-level ``*.py`` of at most ``MAX_FILE_BYTES``, less
    ``EXCLUDED``."""
    return sorted(p.name for p in Path(stdlib).glob("*.py")
                  if p.stat().st_size <= MAX_FILE_BYTES and not p.name.startswith(EXCLUDED))


def prose(source: bytes) -> bytes:
    """The English of one Python file: its docstrings (``ast.get_docstring``, cleaned) and its comments (``tokenize``),
    in the order they appear, one paragraph each (consecutive whole-line comments joined), separated by blank lines.

    Comments without two words in a row (``# noqa``, ``# ----``, commented-out code such as ``# x = f(y)``) are dropped.
    """
    items: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                items.append((node.body[0].lineno, doc))
    last_line, run = -2, None
    for tok in tokenize.tokenize(io.BytesIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        text = tok.string.lstrip("#!").strip()
        whole_line = tok.line.lstrip().startswith("#")
        if run is not None and whole_line and tok.start[0] == last_line + 1:
            run[1] += " " + text  # the comment goes on on the next line
        else:
            run = [tok.start[0], text]
            items.append(run)  # type: ignore[arg-type]
        last_line = tok.start[0] if whole_line else -2
    paragraphs = [text for _, text in sorted(items, key=lambda item: item[0]) if _WORDS.search(text)]
    return ("\n\n".join(paragraphs) + "\n").encode("utf-8") if paragraphs else b""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _compress(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME)


def build(stdlib: str | Path | None = None, directory: str | Path = CORPUS_DIR, files: list[str] | None = None,
          force: bool = False) -> dict:
    """Write the four splits (``<split>.txt.xz``), the licence and the manifest into ``directory``; returns the manifest.

    ``stdlib``: default this Python's (``sysconfig``). ``files``: default the committed manifest's list (so a rebuild
    reproduces it), else ``select_files``. Building from a Python other than ``PYTHON`` gives other bytes: refused
    unless ``force=True``.
    """
    if platform.python_version() != PYTHON and not force:
        raise RuntimeError(f"the corpus is pinned to CPython {PYTHON}'s stdlib, this is {platform.python_version()}: "
                           "its files differ; pass force=True (--force) to build a different corpus anyway")
    stdlib = Path(stdlib or sysconfig.get_paths()["stdlib"])
    directory = Path(directory)
    validate.path("directory", directory)
    if files is None:
        files = manifest(CORPUS_DIR).get("files", {}).keys() or select_files(stdlib)
    files = sorted(files)
    texts = {name: (stdlib / name).read_bytes() for name in files}
    parts = {split: [n for n in files if split_of(n) == split] for split in CODE_SPLITS}
    data = {split: b"".join(texts[n] for n in names) for split, names in parts.items()}
    data["prose"] = b"".join(prose(texts[n]) for n in parts["calibration"])
    for split in SPLITS:
        atomic_write_bytes(directory / f"{split}.txt.xz", _compress(data[split]))
    atomic_write_bytes(directory / LICENSE, (stdlib / "LICENSE.txt").read_bytes())
    entry = {
        "description": f"CPython {platform.python_version()} standard library: top-level *.py modules of at most "
                       f"{MAX_FILE_BYTES} bytes, split by file name (fsc_teach.corpus.split_of); 'prose' is the "
                       "docstrings and comments of the calibration files (fsc_teach.corpus.prose)",
        "source": f"CPython {platform.python_version()} Lib/ (https://github.com/python/cpython/tree/"
                  f"v{platform.python_version()}/Lib)",
        "licence": f"{LICENSE}: the Python source is distributed under the PSF License Agreement (its text and "
                   "Python's other licences in that file); Copyright (c) Python Software Foundation",
        "command": "python -m fsc_teach.corpus build",
        "splits": {split: {"file": f"{split}.txt.xz", "bytes": len(data[split]), "sha256": _sha(data[split]),
                           "xz_sha256": _sha((directory / f"{split}.txt.xz").read_bytes())} for split in SPLITS},
        "files": {n: {"split": split_of(n), "bytes": len(texts[n]), "sha256": _sha(texts[n])} for n in files},
    }
    atomic_write_bytes(directory / MANIFEST, (json.dumps(entry, indent=2) + "\n").encode())
    return entry


def manifest(directory: str | Path = CORPUS_DIR) -> dict:
    """The corpus manifest: splits (file, bytes, sha256 of the text and of the xz file) and files (split, bytes, sha256)."""
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def verify(directory: str | Path = CORPUS_DIR) -> list[str]:
    """What is wrong with the committed corpus (empty when every split's bytes match the manifest)."""
    problems = []
    entry = manifest(directory)
    if not entry:
        return [f"no {MANIFEST} in {directory}"]
    for split, info in entry["splits"].items():
        path = Path(directory) / info["file"]
        if not path.is_file():
            problems.append(f"{split}: {path} is missing")
            continue
        data = lzma.decompress(path.read_bytes())
        if len(data) != info["bytes"] or _sha(data) != info["sha256"]:
            problems.append(f"{split}: {path} does not hold the text the manifest describes")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsc_teach.corpus", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_build = sub.add_parser("build", help="rebuild the corpus from this Python's stdlib")
    p_build.add_argument("--stdlib", default=None, help="default: this Python's stdlib folder")
    p_build.add_argument("--dir", default=str(CORPUS_DIR))
    p_build.add_argument("--reselect", action="store_true", help="choose the files by the rule, not the manifest")
    p_build.add_argument("--force", action="store_true", help=f"build from a Python other than {PYTHON}")
    p_verify = sub.add_parser("verify", help="check the committed files against the manifest")
    p_verify.add_argument("--dir", default=str(CORPUS_DIR))
    args = parser.parse_args(argv)
    if args.cmd == "build":
        files = select_files(Path(args.stdlib or sysconfig.get_paths()["stdlib"])) if args.reselect else None
        entry = build(args.stdlib, args.dir, files, args.force)
        for split, info in entry["splits"].items():
            print(f"{split}: {info['bytes']} bytes, "
                  f"{(Path(args.dir) / info['file']).stat().st_size} compressed")
        return 0
    problems = verify(args.dir)
    print("\n".join(problems) or "corpus ok: every split matches the manifest")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
