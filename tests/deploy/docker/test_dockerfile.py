"""The image's policy, read from the Dockerfile itself (no container engine runs here): hadolint
clean, a pinned Python 3.11 slim base, dependencies from the lock only and in their own layer,
no development dependencies, no remote ADD, no secret, a non-root user, health checks, the
role entry point and the dashboard built from its lock into the directory the backend serves.
`.dockerignore` keeps secrets and local state out of the build context."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.dashboard_bundle import BUILD, DASHBOARD, DIST
from tests.support.missing import missing
from tests.support.processes import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
HADOLINT = Path(sys.executable).parent / "hadolint"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        pending.append(stripped.removesuffix("\\").strip())
        if not stripped.endswith("\\"):
            keyword, _, arguments = " ".join(pending).partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
            pending = []
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def stages(instructions: list[Instruction]) -> dict[str, list[Instruction]]:
    """Instructions by stage name (each stage starts with its FROM)."""
    found: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            name = instruction.arguments.split(" AS ")[-1].strip().lower()
            current = found.setdefault(name, [])
        current.append(instruction)
    return found


INSTRUCTIONS = parse(DOCKERFILE.read_text())
STAGES = stages(INSTRUCTIONS)
RUNTIME = STAGES["runtime"]


def of(keyword: str, instructions: list[Instruction] = INSTRUCTIONS) -> list[Instruction]:
    return [i for i in instructions if i.keyword == keyword]


def global_args() -> dict[str, str]:
    first_from = of("FROM")[0].line
    args = {}
    for instruction in of("ARG"):
        if instruction.line < first_from and "=" in instruction.arguments:
            name, _, value = instruction.arguments.partition("=")
            args[name] = value
    return args


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_parser_sees_the_whole_file() -> None:
    # Guards the checks below against a parser that silently drops instructions.
    assert [i.keyword for i in INSTRUCTIONS][:3] == ["ARG", "ARG", "FROM"]
    assert INSTRUCTIONS[-1].keyword == "CMD"
    assert set(STAGES) == {"dashboard", "build", "runtime"}


def base_image(stage: str) -> str:
    """The stage's FROM image, global ARGs substituted."""
    args = global_args()
    image = STAGES[stage][0].arguments.split(" AS ")[0].strip()
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], image)


def test_the_python_stages_start_from_python_3_11_slim_pinned_by_version_or_digest() -> None:
    for stage in ("build", "runtime"):
        image = base_image(stage)
        name, _, tag = image.partition("@")[0].partition(":")
        assert name == "python", image
        pinned = "@sha256:" in image or re.fullmatch(r"3\.11\.\d+-slim(-\w+)?", tag)
        assert pinned, f"{image}: pin a full version (3.11.N-slim) or a digest, never a moving tag"


def test_the_dashboard_stage_builds_from_the_lock_on_a_pinned_node_20_slim() -> None:
    image = base_image("dashboard")
    name, _, tag = image.partition("@")[0].partition(":")
    assert name == "node", image
    pinned = "@sha256:" in image or re.fullmatch(r"20\.\d+\.\d+-(bookworm-)?slim", tag)
    assert pinned, f"{image}: pin a full version (20.N.N-slim) or a digest, never a moving tag"
    dashboard = STAGES["dashboard"]
    runs = [i.arguments for i in of("RUN", dashboard)]
    installs = [r for r in runs if re.search(r"\bnpm (ci|install|i)\b", r)]
    assert len(installs) == 1 and "npm ci" in installs[0], installs
    # The lock is in the context before npm ci runs, and only the manifest and the lock: the
    # dependency layer changes only when they do.
    [install] = [i for i in of("RUN", dashboard) if "npm ci" in i.arguments]
    copies_before = [i for i in of("COPY", dashboard) if i.line < install.line]
    assert [c.arguments for c in copies_before] == [
        "dashboard/package.json dashboard/package-lock.json ./"
    ]
    assert (REPO_ROOT / "dashboard/package-lock.json").is_file()
    builds = [i for i in of("RUN", dashboard) if "npm run build" in i.arguments]
    assert builds and builds[0].line > install.line


def test_the_runtime_holds_the_built_dashboard_where_the_backend_serves_it() -> None:
    from backend.dashboard import dist_dir
    from shared.settings import Settings

    env = " ".join(i.arguments for i in of("ENV", RUNTIME))
    configured = re.search(r"\bDASHBOARD_DIST_DIR=(\S+)", env)
    assert configured is not None, "the runtime does not tell the backend where the dashboard is"
    # The backend reads that variable as the directory it serves (Settings' own parsing).
    served = dist_dir(Settings(_env_file=None, dashboard_dist_dir=configured[1]))
    workdir = [i.arguments for i in of("WORKDIR", STAGES["dashboard"])][-1]
    copies = [
        c.arguments.split()
        for c in of("COPY", RUNTIME)
        if c.arguments.startswith("--from=dashboard ")
    ]
    assert copies, "the runtime stage copies nothing from the dashboard stage"
    [[_from, source, destination]] = copies
    # Vite's output directory (its default, dist/) of the stage's working directory.
    assert Path(source) == Path(workdir) / "dist"
    assert Path(destination) == served


def test_the_image_builds_the_dashboard_without_source_maps() -> None:
    # Source maps carry the full sources: the production build (`npm run build`, whose Vite
    # config makes them only in development mode) is the only build the image runs.
    builds = [i.arguments for i in of("RUN", STAGES["dashboard"]) if "build" in i.arguments]
    assert builds == ["npm run build"], builds
    script = json.loads((DASHBOARD / "package.json").read_text())["scripts"]["build"]
    assert "vite build" in script, script
    assert not re.search(r"--mode|--sourcemap|NODE_ENV", script), script


def test_the_production_build_has_no_source_maps() -> None:
    """What the image copies, as scripts/bootstrap builds it with the same command."""
    if not (DIST / "index.html").is_file():
        missing(f"the built dashboard ({DIST}/index.html)", BUILD)
    maps = [str(p.relative_to(DIST)) for p in DIST.rglob("*.map")]
    assert not maps, f"{maps}: rebuild with npm run build (a development-mode build has maps)"
    named = [
        str(p.relative_to(DIST))
        for p in DIST.rglob("*.js")
        if b"sourceMappingURL" in p.read_bytes()
    ]
    assert not named, f"{named} point at source maps"


def test_dependencies_come_from_the_lock_without_dev_in_a_layer_of_their_own() -> None:
    build = STAGES["build"]
    syncs = [i for i in of("RUN", build) if "uv sync" in i.arguments]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--frozen" in sync.arguments and "--no-dev" in sync.arguments, sync
        assert "--extra" not in sync.arguments and "--all-extras" not in sync.arguments, sync
    # Nothing else installs Python packages: no pip install but uv itself, pinned.
    for run in of("RUN"):
        for match in re.finditer(r"pip install ([^&;]+)", run.arguments):
            packages = [a for a in shlex.split(match[1]) if not a.startswith("-")]
            assert all(re.fullmatch(r"uv==[\d.$\{\}A-Z_]+", p) for p in packages), run
        assert "uv lock" not in run.arguments and "uv add" not in run.arguments, run
    # The dependency layer: only the lock and pyproject are copied before the first sync, and
    # it installs no project code, so only a change of the lock rebuilds it.
    first_sync = syncs[0]
    copies_before = [i for i in of("COPY", build) if i.line < first_sync.line]
    assert [c.arguments for c in copies_before] == ["pyproject.toml uv.lock ./"]
    assert "--no-install-project" in first_sync.arguments
    # The project on top, as a wheel (the runtime has no source tree to edit).
    assert "--no-editable" in syncs[1].arguments


def test_plugin_files_are_downloaded_at_build_time() -> None:
    downloads = [i for i in of("RUN") if "livekit.agents download-files" in i.arguments]
    assert downloads and all(i in STAGES["build"] for i in downloads)
    entrypoint = (REPO_ROOT / "deploy/docker/entrypoint.sh").read_text()
    assert "download-files" not in entrypoint


def test_no_remote_add_and_no_secret_in_the_image() -> None:
    for instruction in of("ADD"):
        assert not re.search(r"https?://|git@", instruction.arguments), instruction
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL|SERVICE_ROLE")
    for instruction in of("ENV") + of("ARG"):
        names = re.findall(r"(\w+)=", instruction.arguments) or [instruction.arguments.split()[0]]
        assert not [n for n in names if secretish.search(n)], instruction
    copied = " ".join(i.arguments for i in of("COPY"))
    assert ".env" not in copied.split() and "--chown" not in copied


def test_the_runtime_runs_as_a_non_root_user_it_creates() -> None:
    users = of("USER", RUNTIME)
    assert users, "the runtime stage sets no USER: it would run as root"
    user = users[-1].arguments.split(":")[0]
    assert user not in ("root", "0")
    assert users[-1].line < of("ENTRYPOINT", RUNTIME)[0].line
    created = " ".join(i.arguments for i in of("RUN", RUNTIME))
    assert f"--uid {user}" in created, "the USER's uid is not the one useradd creates"


def test_health_checks_cover_the_backend_and_the_workers() -> None:
    [healthcheck] = of("HEALTHCHECK", RUNTIME)
    assert "/app/bin/healthcheck.py" in healthcheck.arguments
    env = " ".join(i.arguments for i in of("ENV", RUNTIME))
    # The ports the health check reads are the ones the processes listen on.
    assert "BACKEND_PORT=8000" in env and "WORKER_HTTP_PORT=8081" in env
    exposed = " ".join(i.arguments for i in of("EXPOSE", RUNTIME)).split()
    assert {"8000", "8081"} <= set(exposed)
    # And the file the HEALTHCHECK names is copied to where it is looked for.
    assert any(
        "deploy/docker/healthcheck.py" in c.arguments and "/app/bin/" in c.arguments
        for c in of("COPY", RUNTIME)
    )


def test_the_entry_point_takes_the_role_as_its_argument() -> None:
    [entrypoint] = of("ENTRYPOINT", RUNTIME)
    assert entrypoint.arguments == '["/app/bin/entrypoint.sh"]'
    script = (REPO_ROOT / "deploy/docker/entrypoint.sh").read_text()
    for role in ("backend", "voxie", "spawner", "migrate"):
        assert re.search(rf"^\s*{role}\) exec python -m ", script, re.M), role


def test_the_spool_is_a_volume_the_user_owns() -> None:
    env = " ".join(i.arguments for i in of("ENV", RUNTIME))
    spool = re.search(r"SPOOL_DIR=(\S+)", env)
    assert spool is not None
    volumes = " ".join(i.arguments for i in of("VOLUME", RUNTIME))
    assert spool[1] in volumes
    assert any(spool[1] in r.arguments and "chown" in r.arguments for r in of("RUN", RUNTIME))


# --- .dockerignore ------------------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if glob.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, glob[3:]) for part in parts)
        else:
            hit = any(
                fnmatch.fnmatch(c, glob) and c.count("/") == glob.count("/") for c in candidates
            )
        if hit:
            verdict = not negated
    return verdict


PATTERNS = [
    line.strip()
    for line in DOCKERIGNORE.read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".venv/bin/python",
        ".data/spool/x.json",
        ".git/config",
        ".tools/bin/helm",
        "tests/conftest.py",
        "shared/__pycache__/settings.cpython-311.pyc",
        "deploy/helm/x",
        "dashboard/node_modules/react/package.json",
        "dashboard/dist/index.html",
    ],
)
def test_dockerignore_keeps_secrets_and_local_state_out(path: str) -> None:
    assert ignored(path, PATTERNS), path


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    for copy in of("COPY"):
        if "--from=" in copy.arguments:
            continue
        *sources, _destination = copy.arguments.split()
        for source in sources:
            files = (
                [source]
                if (REPO_ROOT / source).is_file()
                else [
                    str(p.relative_to(REPO_ROOT))
                    for p in (REPO_ROOT / source).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts
                ]
            )
            assert files, f"{source} copied but missing"
            assert not [f for f in files if ignored(f, PATTERNS)], source
