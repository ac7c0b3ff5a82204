"""The dashboard on the API's origin: a built app (a tiny one made here, shaped like Vite's
output) served at `/` with client routes falling back to `index.html` and the API's own 404s
untouched; a clear page instead of a blank one when there is no build; and the public
`/dashboard-config.json`."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from backend.app import create_app
from backend.dashboard import IMMUTABLE, REVALIDATE
from tests.backend.conftest import (
    OPERATOR,
    assert_unframable_and_not_sniffed,
    backend_settings,
    serving,
)
from tests.support.livekit import LiveKitDouble

INDEX = "<!doctype html><html><head><script src='/assets/index-3f2b8c1e.js'></script></head></html>"
SCRIPT = "console.log('dashboard')"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(INDEX)
    (built / "assets" / "index-3f2b8c1e.js").write_text(SCRIPT)
    (built / "favicon.svg").write_text("<svg/>")
    return built


def app_with(livekit: LiveKitDouble, database_url: str, **values: Any) -> Any:
    return create_app(backend_settings(livekit, database_url, **values), reconcile=False)


async def test_the_app_its_assets_and_client_routes(
    livekit: LiveKitDouble, database_url: str, dist: Path
) -> None:
    async with serving(app_with(livekit, database_url, dashboard_dist_dir=dist)) as http:
        for page in ("/", "/agents", "/agents/3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "/calls/"):
            response = await http.get(page)
            assert response.status_code == 200, page
            assert response.text == INDEX and response.headers["content-type"].startswith(
                "text/html"
            )
            # index.html names the current build's assets: always revalidated.
            assert response.headers["cache-control"] == REVALIDATE, page

        asset = await http.get("/assets/index-3f2b8c1e.js")
        assert asset.text == SCRIPT and asset.headers["cache-control"] == IMMUTABLE
        assert "javascript" in asset.headers["content-type"]
        other = await http.get("/favicon.svg")
        assert other.status_code == 200 and other.headers["cache-control"] == REVALIDATE

        # A missing file is a 404, never the app in its place (a stale build asking for an
        # asset gets an error it can see, not HTML parsed as JavaScript).
        (dist.parent / "secret.txt").write_text("outside the build")
        for missing in ("/assets/index-00000000.js", "/robots.txt", "/..%2Fsecret.txt"):
            response = await http.get(missing)
            assert response.status_code == 404, missing
            assert response.headers["content-type"] == "application/problem+json"


async def test_the_builds_gzipped_files_go_to_who_accepts_them_and_the_api_is_never_compressed(
    livekit: LiveKitDouble, database_url: str, dist: Path
) -> None:
    script = "export const voxie = 'a voice agent platform';\n" * 200
    (dist / "assets" / "vendor-9a8b7c6d.js").write_text(script)
    # The build writes the twin (dashboard/vite.config.ts); the backend compresses nothing.
    (dist / "assets" / "vendor-9a8b7c6d.js.gz").write_bytes(gzip.compress(script.encode()))
    async with serving(app_with(livekit, database_url, dashboard_dist_dir=dist)) as http:
        url = "/assets/vendor-9a8b7c6d.js"
        for accepting in ("gzip", "gzip, deflate, br, zstd", "br;q=1.0, gzip;q=0.8", "*"):
            asset = await http.get(url, headers={"Accept-Encoding": accepting})
            assert asset.headers.get("content-encoding") == "gzip", accepting
            assert asset.text == script  # httpx decoded it: the same bytes
            assert int(asset.headers["content-length"]) < len(script) / 10
            assert asset.headers["cache-control"] == IMMUTABLE
            assert "javascript" in asset.headers["content-type"]  # the file's type, not gzip's
            assert "Accept-Encoding" in asset.headers["vary"]
        # Who does not accept gzip (or refuses it, or says nonsense) gets the file as is.
        for refusing in ("identity", "gzip;q=0", "*;q=0", "gzip;q=zero", "br"):
            plain = await http.get(url, headers={"Accept-Encoding": refusing})
            assert "content-encoding" not in plain.headers, refusing
            assert plain.text == script and "Accept-Encoding" in plain.headers["vary"]
        # A file without a twin goes as it is, to everyone.
        index = await http.get("/assets/index-3f2b8c1e.js", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in index.headers and index.text == SCRIPT
        # The API never: its answers mix tokens with caller-chosen text (BREACH).
        gzip_ok = {"Accept-Encoding": "gzip"}
        document = await http.get("/openapi.json", headers={**gzip_ok, **OPERATOR})
        assert document.status_code == 200 and len(document.content) > 10_000
        assert "content-encoding" not in document.headers
        config = await http.get("/dashboard-config.json", headers=gzip_ok)
        assert config.status_code == 200 and "content-encoding" not in config.headers


async def test_the_api_keeps_its_own_answers(
    livekit: LiveKitDouble, database_url: str, dist: Path
) -> None:
    async with serving(app_with(livekit, database_url, dashboard_dist_dir=dist)) as http:
        for method, url in (
            ("GET", "/api"),
            ("GET", "/api/no-such-thing"),
            ("GET", "/api/agents/x/y/z"),
            ("POST", "/"),
            ("POST", "/agents"),
        ):
            response = await http.request(method, url)
            assert response.status_code == 404, url
            assert response.headers["content-type"] == "application/problem+json", url
        # A known path with another method is still the API's 405 naming what it allows.
        wrong = await http.put("/api/agents")
        assert wrong.status_code == 405 and set(wrong.headers["allow"].split(", ")) >= {
            "GET",
            "POST",
        }
        assert (await http.get("/api/agents")).status_code == 401
        assert (await http.get("/healthz")).json() == {"status": "ok"}


async def test_no_page_of_the_dashboard_can_be_framed_or_sniffed(
    livekit: LiveKitDouble, database_url: str, dist: Path, tmp_path: Path
) -> None:
    (dist / "assets" / "index-3f2b8c1e.js.gz").write_bytes(gzip.compress(SCRIPT.encode()))
    async with serving(app_with(livekit, database_url, dashboard_dist_dir=dist)) as http:
        answers = [
            await http.get("/"),
            await http.get("/index.html"),
            await http.get("/agents/3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44"),  # a client route
            await http.get("/assets/index-3f2b8c1e.js"),
            await http.get("/assets/index-3f2b8c1e.js", headers={"Accept-Encoding": "gzip"}),
            await http.get("/favicon.svg"),
            await http.get("/dashboard-config.json"),
            await http.get("/assets/index-00000000.js"),  # a missing file's 404
        ]
        etag = answers[0].headers["etag"]
        answers.append(await http.get("/", headers={"If-None-Match": etag}))
        assert [a.status_code for a in answers] == [200] * 7 + [404, 304]
        assert answers[4].headers["content-encoding"] == "gzip"
        for answer in answers:
            assert_unframable_and_not_sniffed(answer)
    missing = tmp_path / "not-built"
    async with serving(app_with(livekit, database_url, dashboard_dist_dir=missing)) as http:
        page = await http.get("/")
        assert page.status_code == 503
        assert_unframable_and_not_sniffed(page)


@pytest.mark.parametrize(("platform_env", "maps_served"), [("dev", True), ("staging", False)])
async def test_source_maps_only_in_development_and_never_the_build_records(
    livekit: LiveKitDouble, database_url: str, dist: Path, platform_env: str, maps_served: bool
) -> None:
    (dist / "assets" / "index-3f2b8c1e.js.map").write_text('{"sourcesContent": ["secret"]}')
    (dist / ".vite").mkdir()
    (dist / ".vite" / "manifest.json").write_text('{"index.html": {}}')
    production = {"livekit_api_key": "staging-key", "livekit_api_secret": "s" * 40}
    values = {} if platform_env == "dev" else production
    app = app_with(
        livekit, database_url, dashboard_dist_dir=dist, platform_env=platform_env, **values
    )
    async with serving(app) as http:
        source_map = await http.get("/assets/index-3f2b8c1e.js.map")
        assert source_map.status_code == (200 if maps_served else 404)
        for hidden in ("/.vite/manifest.json", "/assets/../.vite/manifest.json", "/.vite/"):
            response = await http.get(hidden)
            assert response.status_code == 404, hidden
            assert response.headers["content-type"] == "application/problem+json", hidden
        assert (await http.get("/assets/index-3f2b8c1e.js")).text == SCRIPT


@pytest.mark.parametrize("node", [True, False])
async def test_without_a_build_a_page_says_why(
    livekit: LiveKitDouble,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    node: bool,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if node:
        (bin_dir / "node").write_text("#!/bin/sh\n")
        (bin_dir / "node").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # what the backend's PATH offers
    missing = tmp_path / "never-built"
    async with serving(app_with(livekit, database_url, dashboard_dist_dir=missing)) as http:
        for page in ("/", "/agents"):
            response = await http.get(page)
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("text/html")
            assert "The dashboard is not built" in response.text
            assert "scripts/bootstrap" in response.text
            assert ("install Node.js 20" in response.text) is not node
        assert (await http.get("/api/nothing")).status_code == 404
        assert (await http.get("/healthz")).status_code == 200


async def test_the_dashboard_config_in_dev_and_with_supabase(
    livekit: LiveKitDouble, database_url: str
) -> None:
    dev = app_with(livekit, database_url, platform_env="dev")
    async with serving(dev) as http:
        response = await http.get("/dashboard-config.json")  # public: no token
        assert response.json() == {
            "auth": {"mode": "dev", "supabase_url": None, "supabase_anon_key": None},
            "platform_env": "dev",
            "agent_join_timeout_s": 30,
        }
        assert response.headers["cache-control"] == REVALIDATE

    supabase = app_with(
        livekit,
        database_url,
        platform_env="staging",
        livekit_api_key="staging-key",
        livekit_api_secret="s" * 40,
        supabase_url="https://abc.supabase.co",
        supabase_anon_key="anon-public-key",
    )
    async with serving(supabase) as http:
        assert (await http.get("/dashboard-config.json")).json() == {
            "auth": {
                "mode": "supabase",
                "supabase_url": "https://abc.supabase.co",
                "supabase_anon_key": "anon-public-key",
            },
            "platform_env": "staging",
            "agent_join_timeout_s": 30,
        }

    # dev on a public address has no dev sign-in: the app is told to use Supabase.
    exposed = app_with(livekit, database_url, platform_env="dev", backend_host="0.0.0.0")  # noqa: S104
    async with serving(exposed) as http:
        assert (await http.get("/dashboard-config.json")).json()["auth"]["mode"] == "supabase"
