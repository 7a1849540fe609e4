"""The compose stack (infra/docker-compose.yml) as processes on 127.0.0.1, for tests.

These machines have no container runtime, so each service runs as a host process started with
the `command` and `environment` the compose file gives it (interpolated from an env file as
`docker compose --env-file` does) on top of the image's `ENV` (infra/docker/Dockerfile). What a
container would change is mapped, nothing else: service hostnames and container ports become
127.0.0.1 and free ports, container paths become folders of the test. Killing a "container"
kills its whole process tree, as stopping a container does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.loopback import free_port

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
COMPOSE = INFRA / "docker-compose.yml"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
HOST = "127.0.0.1"

# The port each service listens on inside its container.
CONTAINER_PORTS = {
    "postgres": 5432,
    "gcs": 9023,
    "code": 4000,
    "webserver": 3000,
    "mlflow": 5000,
    "dashboard": 8050,
}

_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class ComposeError(ValueError):
    """The compose file asks for a variable the env file does not give."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise ComposeError(f"{name}: {arg or 'required'}")
        return value or ""

    return _VAR.sub(one, text)


def read_env_file(path: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """An env file as compose reads it: 'single-quoted' values literal, others interpolated
    from the lines above. `overrides` replace the file's values as they are read, as an
    operator's edits of the file would, and add the keys the file lacks."""
    overrides = overrides or {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        literal = len(value) >= 2 and value[0] == value[-1] == "'"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        key = key.strip()
        values[key] = overrides.get(key, value if literal else interpolate(value, values))
    return {**values, **overrides}


def image_env() -> dict[str, str]:
    """The runtime stage's ENV of the Dockerfile."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    stage = text.split(" AS runtime", 1)[1]
    values: dict[str, str] = {}
    for line in stage.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                key, _, value = item.partition("=")
                values[key] = value
    return values


@dataclass
class Service:
    name: str
    command: list[str]
    environment: dict[str, str]


def compose_services(env: Mapping[str, str]) -> dict[str, Service]:
    """Every service of the compose file, interpolated from `env` (the env file given to
    `docker compose --env-file`)."""
    doc = yaml.safe_load(COMPOSE.read_text())
    services: dict[str, Service] = {}
    for name, body in doc["services"].items():
        command = body.get("command") or []  # none: the image's own (postgres, gcs)
        if isinstance(command, str):
            command = shlex.split(command)
        environment: dict[str, str] = {}
        files = body.get("env_file") or []
        for _ in [files] if isinstance(files, str) else files:
            environment.update(env)  # the test's env file stands for every env_file
        items = body.get("environment") or {}
        if isinstance(items, list):
            items = dict(i.split("=", 1) if "=" in i else (i, None) for i in items)
        for key, value in items.items():
            if value is None:  # `- NAME`: passed through from the interpolation environment
                if key in env:
                    environment[key] = env[key]
            else:
                environment[key] = interpolate(str(value), env)
        services[name] = Service(name, [interpolate(str(c), env) for c in command], environment)
    return services


@dataclass
class Process:
    service: Service
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n--- start {self.starts}: {shlex.join(self.argv)}\n".encode())
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the "container"
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process tree, as stopping its container would, and wait for it."""
        self.signal(sig)
        self.wait()

    def signal(self, sig: int) -> None:
        if self.popen is None:
            return
        for pid in [*_descendants(self.popen.pid), self.popen.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def wait(self, seconds: float = 60) -> None:
        """Until the process has exited; one that ignores SIGTERM that long gets SIGKILL."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=seconds)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Stack:
    """Maps the compose services onto this host and runs them."""

    root: Path
    env_file: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    on_stop: list[Callable[[], Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in CONTAINER_PORTS:
            self.ports.setdefault(name, free_port())
        self.data = self.root / "data"  # the image's WORKDIR and volumes
        self.home = self.root / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(INFRA / "dagster.yaml", self.home / "dagster.yaml")
        workspace = yaml.safe_load((INFRA / "workspace.yaml").read_text())
        for entry in workspace["load_from"]:
            server = entry["grpc_server"]
            server["port"] = self.ports[server["host"]]
            server["host"] = HOST
        self.workspace = self.root / "workspace.yaml"
        self.workspace.write_text(yaml.safe_dump(workspace))

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"

    def localize(self, text: str, service: str) -> str:
        """Container names, ports and paths of `service`'s strings, as on this host."""
        text = text.replace("0.0.0.0", HOST)
        text = text.replace("/opt/dagster/workspace.yaml", str(self.workspace))
        text = text.replace("/opt/dagster/dagster_home", str(self.home))
        text = re.sub(r"(?<![\w/])/data\b", str(self.data), text)
        own = CONTAINER_PORTS.get(service)
        if own is not None:  # a port option inside a shell command line
            text = re.sub(rf"(--port|-p)([ =]){own}\b", rf"\g<1>\g<2>{self.ports[service]}", text)
        for name, inside in CONTAINER_PORTS.items():
            text = re.sub(
                rf"(?<![\w.-])(?:{name}|localhost|127\.0\.0\.1):{inside}\b"
                if name == service
                else rf"(?<![\w.-]){name}:{inside}\b",
                f"{HOST}:{self.ports[name]}",
                text,
            )
        return text

    def process(self, service: Service, extra_env: Mapping[str, str] | None = None) -> Process:
        inside = CONTAINER_PORTS.get(service.name)
        argv = []
        for arg in service.command:
            if inside is not None and arg == str(inside):
                arg = str(self.ports[service.name])
            argv.append(self.localize(arg, service.name))
        executable = shutil.which(argv[0], path=self._path())
        assert executable, f"{argv[0]} of service {service.name} is not installed"
        argv[0] = executable
        env = {
            "PATH": self._path(),
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            **{k: self.localize(v, service.name) for k, v in image_env().items() if k != "PATH"},
        }
        for key, value in service.environment.items():
            # A bare service hostname (DAGSTER_PG_HOST=postgres) is this host.
            bare = key.endswith("_HOST") and value in CONTAINER_PORTS
            env[key] = HOST if bare else self.localize(value, service.name)
        env.update(extra_env or {})
        for path in (env.get("ENERGY_STATE_DIR"), env.get("ENERGY_STORAGE_DIR")):
            if path:
                Path(path).mkdir(parents=True, exist_ok=True)
        cwd = self.root / "cwd" / service.name  # a container's own filesystem
        cwd.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        proc = Process(service, argv, env, cwd, self.root / f"{service.name}.log")
        self.processes[service.name] = proc
        return proc

    @staticmethod
    def _path() -> str:
        return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

    def stop(self) -> None:
        """Every container stopped at once, as `docker compose down` does."""
        running = [p for p in self.processes.values() if p.alive()]
        for proc in running:
            proc.signal(signal.SIGTERM)
        for proc in running:
            proc.wait()
        for stop in self.on_stop:
            stop()


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    interval: float = 0.5,
    logs: Callable[[], str] = lambda: "",
) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and the logs)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})\n{logs()}"
    )
