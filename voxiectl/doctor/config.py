"""The settings check: valid for every component of this PLATFORM_ENV, and which store and agent
names they give."""

from __future__ import annotations

from shared.naming import WorkerRole
from shared.settings import ConfigError, Settings
from voxiectl.doctor.report import Check, Status


def settings_check(s: Settings) -> Check:
    problems: list[str] = []
    for component in ("backend", "voxie", "spawner"):
        try:
            s.validate_for(component)
        except ConfigError as exc:
            problems.append(str(exc))
    names = {
        role.value: s.worker_agent_name(role) for role in (WorkerRole.VOXIE, WorkerRole.SPAWNER)
    }
    data = {"platform_env": s.platform_env, "store": s.store_kind.value, "agent_names": names}
    if problems:
        return Check(
            "settings",
            Status.FAIL,
            "; ".join(problems),
            "set the variables named above for this PLATFORM_ENV (.env.example explains each)",
            data,
        )
    return Check(
        "settings",
        Status.PASS,
        f"valid for PLATFORM_ENV={s.platform_env} (backend, voxie, spawner); "
        f"store {s.store_kind.value}; agent names {names['voxie']}, {names['spawner']}",
        data=data,
    )


def unloadable(exc: ConfigError) -> Check:
    return Check(
        "settings",
        Status.FAIL,
        f"the settings do not load: {exc}",
        "set or correct the variables named above (.env.example explains each)",
    )
