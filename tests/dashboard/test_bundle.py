"""The built dashboard's code splitting, read from the build's manifest (nothing is built here:
scripts/test builds the dashboard first, through scripts/bootstrap): the Agents list — the page
everyone lands on — and every other page without a call must not load livekit-client, which only
the two call pages (Create with Voxie, Test call) need. `python -m bench.dashboard_bundle`
prints the sizes."""

from __future__ import annotations

import gzip

import pytest

from tests.support.dashboard_bundle import BUILD, DIST, Bundle, pages
from tests.support.missing import missing

# A string only livekit-client's code carries (the protobuf name of its signalling requests, kept
# by any minifier): how its chunk is recognised whatever the build names it.
LIVEKIT_CLIENT = b"livekit.SignalRequest"
CALL_PAGES = {"TestCallPage", "VoxiePage"}


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    if not (DIST / "index.html").is_file():
        missing(f"the built dashboard ({DIST}/index.html)", BUILD)
    return Bundle.read()  # a build without its manifest fails here, naming the fix


def livekit_chunks(bundle: Bundle) -> set[str]:
    return {f for f in bundle.all_js() if LIVEKIT_CLIENT in (bundle.dist / f).read_bytes()}


def test_only_the_call_pages_load_livekit_client(bundle: Bundle) -> None:
    livekit = livekit_chunks(bundle)
    # The marker still finds livekit-client, so its absence below means something.
    assert livekit, f"no JS file of {bundle.dist} contains {LIVEKIT_CLIENT!r}: update the marker"
    assert set(pages()) >= CALL_PAGES | {"AgentsPage"}
    for page in pages():
        loaded = livekit & set(bundle.initial_js(page))
        if page in CALL_PAGES:
            assert loaded, f"{page} does not load livekit-client: is the marker still right?"
        else:
            assert not loaded, f"{page} loads livekit-client ({sorted(loaded)}) before it shows"


def test_the_agents_page_is_its_own_chunk_and_loads_a_fraction_of_the_build(
    bundle: Bundle,
) -> None:
    assert bundle.is_split("AgentsPage")
    agents = bundle.size(bundle.initial_js("AgentsPage"))
    everything = bundle.size(bundle.all_js())
    # Measured 44 % (482 of 1,108 KiB): livekit-client alone is about half of the build.
    assert agents.raw < 0.6 * everything.raw, (agents, everything)


def test_every_script_and_style_of_the_build_has_its_gzipped_twin(bundle: Bundle) -> None:
    # The backend sends the twin to browsers that accept gzip and compresses nothing itself.
    texts = [p for p in (bundle.dist / "assets").iterdir() if p.suffix in (".js", ".css")]
    worth_it = [p for p in texts if p.stat().st_size >= 1024]
    assert worth_it, f"no script or style of 1 KiB or more in {bundle.dist}/assets"
    for path in worth_it:
        twin = path.with_name(path.name + ".gz")
        assert twin.is_file(), f"{path.name} has no {twin.name}: dashboard/vite.config.ts writes it"
        assert gzip.decompress(twin.read_bytes()) == path.read_bytes(), twin.name
