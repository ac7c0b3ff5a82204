"""The dashboard's JavaScript per page: `python -m bench.dashboard_bundle [--dist dashboard/dist]`.

Reads the build's manifest (`dist/.vite/manifest.json`; scripts/bootstrap or `npm run build`
in dashboard/ makes it) and prints, for each page module in dashboard/src/pages/, the JS the
browser loads before the page shows — the entry and its static imports, plus the page's own
chunk and its static imports when the page is split out — raw and gzipped (level 9), with its
share of the build's whole JS (what an all-in-one bundle makes every page load). The backend
serves the files uncompressed, so raw is what crosses the wire unless a proxy compresses.
Builds nothing: point `--dist` at another build (e.g. a copy of an older one) to compare.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.support.dashboard_bundle import DIST, Bundle, ManifestMissing, Size, pages


def kib(size: Size) -> str:
    return f"{size.raw / 1024:8.1f} KiB raw {size.gzip / 1024:7.1f} KiB gzip"


def report(bundle: Bundle) -> list[str]:
    total = bundle.size(bundle.all_js())
    lines = [f"{'all JS of the build':<22} {kib(total)}  {len(bundle.all_js())} files"]
    for page in pages():
        files = bundle.initial_js(page)
        size = bundle.size(files)
        where = "own chunk" if bundle.is_split(page) else "in the entry"
        lines.append(
            f"{page:<22} {kib(size)}  {size.raw / total.raw:5.0%} raw "
            f"{size.gzip / total.gzip:5.0%} gzip of all  {len(files)} files ({where})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=DIST, help="the build (default: %(default)s)")
    args = parser.parse_args()
    try:
        bundle = Bundle.read(args.dist)
    except ManifestMissing as exc:
        raise SystemExit(str(exc)) from None
    print("\n".join(report(bundle)))


if __name__ == "__main__":
    main()
