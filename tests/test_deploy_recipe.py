"""The Docker recipe stays in step with the Makefile path that CI runs (no Docker engine here).

Dockerfile ~ `make install` / `make run`, deploy/rasa.Dockerfile ~ nlu/rasa.mk, and
docker-compose.yml's environment ~ what bot/config.py really reads: the same pins, the same
training and serving commands, healthchecks on the configured port, each service's volume."""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
RASA_MK = (ROOT / "nlu" / "rasa.mk").read_text(encoding="utf-8")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        op, _, args = whole.partition(" ")
        out.append((op.upper(), args.strip()))
    return out


def one(items: list[tuple[str, str]], op: str) -> str:
    found = [a for o, a in items if o == op]
    assert len(found) == 1, f"{op}: {found}"
    return found[0]


def make_vars(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(?:export )?([A-Z_0-9]+) *[:?]?= *(.*?) *$", text, re.M))


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?message} and $$."""

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", sub, value).replace("$$", "$")


def pin(lines: list[str], package: str) -> str:
    versions = [m.group(1) for line in lines
                if (m := re.match(rf"^{re.escape(package)}(?:\[[^\]]*\])?==([^\s;#]+)", line.strip(), re.I))]
    assert len(versions) == 1, f"{package} pinned {versions}"
    return versions[0]


BOT = instructions(ROOT / "Dockerfile")
RASA = instructions(ROOT / "deploy" / "rasa.Dockerfile")
SECRETS = {"TELEGRAM_BOT_TOKEN": "123:abc", "POSTGRES_PASSWORD": "pw0123", "RASA_TOKEN": "rasa-secret"}


# -- the bot image and `make install` / `make run` ----------------------------------------------

def test_bot_image_installs_what_make_install_installs():
    base = one(BOT, "FROM")
    python = make_vars(MAKEFILE)["PYTHON"]  # python3.11
    assert re.fullmatch(r"python:(\d+\.\d+)-slim(-\w+)?", base) and base.split(":")[1].startswith(python[6:] + "-")
    assert PYPROJECT["project"]["requires-python"] == f">={python[6:]}"

    runs = " ".join(a for o, a in BOT if o == "RUN")
    torch = pin(re.findall(r"\btorch==\S+", runs), "torch")
    assert torch == pin(PYPROJECT["project"]["dependencies"], "torch")
    assert torch == pin((ROOT / "requirements.lock").read_text().splitlines(), "torch")
    assert "download.pytorch.org/whl/cpu" in " ".join(a for _, a in BOT)  # not the CUDA build

    make_install = re.search(r"pip install (.*)$", MAKEFILE, re.M).group(1)
    assert "-c requirements.lock" in make_install and "-e '.[dev]'" in make_install
    assert re.search(r"pip install [^&]*-c requirements\.lock -e \.(\s|$)", runs)

    copied = {shlex.split(a)[0] for o, a in BOT if o == "COPY"} | {
        p for o, a in BOT if o == "COPY" for p in shlex.split(a)[:-1]}
    for package in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert package.rstrip("*") in copied, f"{package} is installed by pyproject but not copied"
    assert "config.yml" in copied and "requirements.lock" in copied

    assert one(BOT, "CMD") == '["driverhome", "run"]'
    assert re.search(r"\$\(VENV\)/bin/driverhome run$", MAKEFILE, re.M)
    user = one(BOT, "USER")
    assert user not in ("root", "0")
    assert re.search(rf"useradd [^&]*\b{user}\b", runs)


def test_bot_image_fetches_the_configured_model_at_build_time_and_runs_offline():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    model = dict(a.split("=", 1) for o, a in BOT if o == "ARG")["EMBEDDING_MODEL"]
    assert model == config["retrieval"]["model"]
    fetch = next(i for i, (o, a) in enumerate(BOT) if o == "RUN" and "SentenceTransformer" in a)
    assert "HF_HUB_OFFLINE=0" in BOT[fetch][1] and "${EMBEDDING_MODEL}" in BOT[fetch][1]
    offline = [i for i, (o, a) in enumerate(BOT) if o == "ENV" and "HF_HUB_OFFLINE=1" in a]
    assert offline and offline[-1] > fetch
    assert not [a for o, a in BOT[fetch + 1:] if o == "ENV" and "HF_HUB_OFFLINE=0" in a]
    assert "HF_HOME" in " ".join(a for o, a in BOT[:fetch] if o == "ENV")  # the cache the bot reads


# -- healthchecks -------------------------------------------------------------------------------

def healthcheck_command(args: str) -> list[str]:
    import json

    exec_form = args[args.index("CMD") + 3:].strip()
    return json.loads(exec_form)


def test_bot_healthchecks_ask_the_configured_port_and_route():
    from bot.config import ServerSettings
    from bot.telegram.server import web_app

    dockerfile = healthcheck_command(one(BOT, "HEALTHCHECK"))
    compose = SERVICES["bot"]["healthcheck"]["test"]
    assert compose == ["CMD", *dockerfile]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(dockerfile))
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    assert int(url.group(1)) == ServerSettings().port == config["server"]["port"]
    routes = {(r.method, r.resource.canonical) for r in web_app(None, None).router.routes()}
    assert ("GET", url.group(2)) in routes


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_bot_healthcheck_command_fails_when_healthz_says_503(status, healthy):
    """The very command of the Dockerfile, with the stand-in's port: slim has no curl."""
    handler = type("Health", (_Health,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cmd = healthcheck_command(one(BOT, "HEALTHCHECK"))
        assert cmd[0] == "python"
        cmd = [sys.executable, *(c.replace(":8080/", f":{server.server_port}/") for c in cmd[1:])]
        assert (subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0) is healthy
    finally:
        server.shutdown()
        server.server_close()


# -- docker-compose.yml -------------------------------------------------------------------------

def test_each_service_has_a_healthcheck_and_a_named_volume_and_the_bot_waits_for_postgres():
    assert set(SERVICES) == {"bot", "rasa", "postgres"}
    declared = set(COMPOSE["volumes"])
    for name, svc in SERVICES.items():
        test = svc["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        named = {v.split(":", 1)[0] for v in svc["volumes"]}
        assert named & declared, f"{name} has no named volume"
        assert svc.get("restart") == "unless-stopped", name
    assert SERVICES["bot"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["bot"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert SERVICES["rasa"]["build"] == {"context": ".", "dockerfile": "deploy/rasa.Dockerfile"}
    assert re.fullmatch(r"postgres:15(\.\d+)?", SERVICES["postgres"]["image"])
    assert "/app/data" in {v.split(":", 1)[1] for v in SERVICES["bot"]["volumes"]}
    assert "/var/lib/postgresql/data" in {v.split(":", 1)[1] for v in SERVICES["postgres"]["volumes"]}


def compose_env(service: str, env: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(str(v), env) for k, v in SERVICES[service]["environment"].items()}


def test_the_bot_environment_reaches_the_settings(monkeypatch):
    """What config.yml + the compose environment give the bot: the `postgres` and `rasa` services."""
    from bot.config import load_settings
    from bot.storage.db import engine_url

    env = compose_env("bot", SECRETS)
    for name in ("NLU", "LOGGING", "DATABASE_URL", "TELEGRAM_BOT_TOKEN", "RASA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = load_settings(ROOT / "config.yml")

    assert settings.token == SECRETS["TELEGRAM_BOT_TOKEN"]
    db = make_url(settings.db_url)
    pg = compose_env("postgres", SECRETS)
    assert (db.get_backend_name(), db.host, db.port) == ("postgresql", "postgres", 5432)
    assert (db.username, db.password, db.database) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])
    assert engine_url(settings.db_url).startswith("postgresql+psycopg://")
    assert any(d.startswith("psycopg") for d in PYPROJECT["project"]["dependencies"])

    rasa = make_url(settings.nlu.rasa_url.replace("http://", "postgresql://", 1))  # host and port
    assert rasa.host == "rasa" and rasa.port == int(entrypoint_option("-p"))
    assert settings.nlu.backend in ("auto", "rasa")
    assert settings.nlu.token == SECRETS["RASA_TOKEN"] == compose_env("rasa", SECRETS)["RASA_TOKEN"]
    assert settings.logging.format == "json"
    assert settings.nlu.timeout_ms == yaml.safe_load((ROOT / "config.yml").read_text())["nlu"]["timeout_ms"]


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(KeyError, match=missing):
        for service in SERVICES:
            if "environment" in SERVICES[service]:
                compose_env(service, env)


# -- the Rasa image and nlu/rasa.mk -------------------------------------------------------------

def entrypoint_option(flag: str) -> str:
    import json

    cmd = shlex.split(json.loads(one(RASA, "ENTRYPOINT"))[-1])
    return cmd[cmd.index(flag) + 1]


def test_rasa_image_installs_the_rasa_venv_requirements():
    mk = make_vars(RASA_MK)
    reqs = [line for line in (ROOT / mk["RASA_REQS"]).read_text().splitlines() if line and not line.startswith("#")]
    image, tag = one(RASA, "FROM").split(":")
    assert image == "rasa/rasa" and tag.removesuffix("-full") == pin(reqs, "rasa")
    pin(reqs, "jieba")  # exactly pinned, and installed from the same file below
    installs = [a for o, a in RASA if o == "RUN" and "pip install" in a]
    assert len(installs) == 1 and f"-r {mk['RASA_REQS']}" in installs[0]
    assert f"RASA_TELEMETRY_ENABLED={mk['RASA_TELEMETRY_ENABLED']}" in " ".join(a for o, a in RASA if o == "ENV")


def train_options(command: str) -> dict[str, str]:
    words = shlex.split(command.split("train nlu", 1)[1].split("&&")[0])
    return {w: words[i + 1] for i, w in enumerate(words) if w.startswith("--")}


def test_rasa_image_trains_and_serves_like_rasa_mk():
    mk = make_vars(RASA_MK)
    make_train = train_options(re.search(r"\$\(RASA_BIN\) train nlu .*?--fixed-model-name", RASA_MK, re.S).group(0)
                               .replace("\\\n", " ") + ' "$key"')
    image_train = train_options(next(a for o, a in RASA if o == "RUN" and "rasa train nlu" in a))
    same = ("--config", "--domain", "--nlu")
    assert {k: make_train[k] for k in same} == {k: image_train[k] for k in same}
    assert set(image_train) == set(make_train)  # --out and --fixed-model-name too, to its own place
    model = f"{image_train['--out']}/{image_train['--fixed-model-name']}.tar.gz"
    assert model == mk["RASA_MODEL"] == entrypoint_option("-m")

    serve = re.search(r"exec \$\(RASA_BIN\) run (.*?)--auth-token", RASA_MK, re.S).group(1)
    assert "--enable-api" in serve and "--enable-api" in json_entrypoint()
    assert entrypoint_option("-p") == mk["RASA_PORT"]
    assert entrypoint_option("--auth-token") == "${RASA_TOKEN:?RASA_TOKEN is not set}"
    health = " ".join(SERVICES["rasa"]["healthcheck"]["test"])
    assert f"127.0.0.1:{mk['RASA_PORT']}/" in health
    assert "/app/logs" in entrypoint_option("--log-file") and "rasa-logs:/app/logs" in SERVICES["rasa"]["volumes"]

    # Everything the model is keyed on in rasa.mk goes into the image (COPY nlu, not ignored).
    inputs = [w for w in mk["RASA_INPUTS"].split() if not w.startswith("$") and not w.endswith(")")]
    inputs += [str(p.relative_to(ROOT)) for p in (ROOT / "nlu" / "dict").iterdir()]
    assert "nlu/rasa_components.py" in inputs and len(inputs) >= 5
    copied = [shlex.split(a)[0] for o, a in RASA if o == "COPY"]
    for path in inputs:
        assert (ROOT / path).is_file()
        assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied), path
        assert not ignored(path), path


def json_entrypoint() -> str:
    import json

    return " ".join(json.loads(one(RASA, "ENTRYPOINT")))


# -- .dockerignore ------------------------------------------------------------------------------

def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [p.strip().rstrip("/") for p in lines if p.strip() and not p.startswith("#")]


def ignored(path: str) -> bool:
    """Docker's rules for the plain patterns used here: a match on the path or a parent folder."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in ignore_patterns():
        assert not pattern.startswith("!"), "exceptions are not handled by this check"
        for p in prefixes:
            if fnmatch.fnmatchcase(p, pattern) or (pattern.startswith("**/")
                                                    and fnmatch.fnmatchcase(p.split("/")[-1], pattern[3:])):
                return True
    return False


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_what_the_images_copy():
    for local in (".env", ".git", ".venv", ".venv-rasa", "data/driverhome.db", "nlu/models/current.tar.gz",
                  "backups/x.dump", "bot/__pycache__/cli.cpython-311.pyc"):
        assert ignored(local), local
    for path in ("pyproject.toml", "requirements.lock", "config.yml", "README.md", "bot/cli.py",
                 "bot/storage/migrations/env.py", "knowledge_base/faq.yml", "knowledge_base/dict/words.txt",
                 "nlu/data/nlu.yml", "nlu/requirements-rasa.txt", "bench/__init__.py"):
        assert (ROOT / path).exists(), path
        assert not ignored(path), path
