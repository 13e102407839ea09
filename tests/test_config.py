"""squad.toml: lookup order, the seed squad, the example file, errors with file, line and key."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from console.config import ConfigError, load_settings, parse_duration

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "assets" / "squad.example.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_file_gives_the_seed_squad(tmp_path: Path) -> None:
    s = load_settings(env={})
    assert s.source is None and s.store.kind == "local"
    assert [(a.id, a.heartbeat, a.tz) for a in s.agents] == [
        ("cestra", "*/15 * * * *", "UTC"),
        ("veda", "2-59/15 * * * *", "UTC"),
        ("orin", "4-59/15 * * * *", "UTC"),
    ]
    assert s.agents[1].workspace.endswith(".openclaw/workspace-veda")
    assert s.store.local_path() == tmp_path / "xdg-data" / "squad-console" / "squad.db"


def test_lookup_order(tmp_path: Path) -> None:
    user = write(tmp_path / "xdg-config" / "squad-console" / "squad.toml", '[store]\npoll_interval = "7s"\n')
    assert load_settings(env={}).source == user
    cwd = write(tmp_path / "squad.toml", '[store]\npoll_interval = "6s"\n')
    assert load_settings(env={}).source == cwd
    env_file = write(tmp_path / "env.toml", '[store]\npoll_interval = "5s"\n')
    assert load_settings(env={"SQUAD_CONSOLE_CONFIG": str(env_file)}).source == env_file
    flag = write(tmp_path / "flag.toml", '[store]\npoll_interval = "4s"\n')
    s = load_settings(flag, env={"SQUAD_CONSOLE_CONFIG": str(env_file)})
    assert s.source == flag and s.store.poll_interval == 4


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file .named by --config."):
        load_settings(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError, match="SQUAD_CONSOLE_CONFIG"):
        load_settings(env={"SQUAD_CONSOLE_CONFIG": str(tmp_path / "gone.toml")})


def uncommented(text: str) -> str:
    """The example with its commented-out settings switched on (`# key = value`, `# [table]`)."""
    return re.sub(r"(?m)^# (?=\[|[a-z_]+ = )", "", text)


def test_the_example_documents_every_key_and_parses(tmp_path: Path) -> None:
    full = tmp_path / "assets-copy"
    shutil.copytree(EXAMPLE.parent, full)
    (full / "squad.example.toml").write_text(uncommented(EXAMPLE.read_text()))
    s = load_settings(full / "squad.example.toml", env={})
    assert [a.id for a in s.agents] == ["cestra", "veda", "orin"]
    assert s.store.poll_interval == 5 and s.store.poll_interval_idle == 30 and s.agents[0].grace == 300
    raw = tomllib.loads(uncommented(EXAMPLE.read_text()))
    from console import config

    assert set(raw["store"]) == config.STORE_KEYS
    assert set(raw["openclaw"]) == config.OPENCLAW_KEYS
    assert set(raw["agents"][0]) == config.AGENT_KEYS
    assert set(raw["pipeline"]) == config.PIPELINE_KEYS
    assert set(raw["pipeline"]["rules"][0]) == config.RULE_KEYS
    assert set(raw["pipeline"]["criteria"]) == config.CRITERIA_KEYS
    assert s.pipeline.rules[0].window == 30 * 86400 and s.pipeline.criteria.must_have == (("would_pay", 3.5),)
    assert s.pipeline.survey_template == full / "survey.template.json" and s.pipeline.max_body == 5 * 1024**2
    # and the parser refuses anything else in each table (so this list cannot silently fall behind)
    for table in ("store", "openclaw"):
        with pytest.raises(ConfigError, match="unknown key"):
            config._Parser(None, config._Locator("")).settings({table: {"surprise": 1}}, {}, None)
    with pytest.raises(ConfigError, match="unknown key"):
        config._Parser(None, config._Locator("")).settings({"agents": [{"id": "x", "surprise": 1}]}, {}, None)
    for pipeline in ({"surprise": 1}, {"rules": [{"name": "r", "surprise": 1}]}, {"criteria": {"surprise": 1}}):
        with pytest.raises(ConfigError, match="unknown key"):
            config._Parser(None, config._Locator("")).settings({"pipeline": pipeline}, {}, None)


def test_the_example_is_safe_to_copy(tmp_path: Path) -> None:
    """Copied as ONBOARDING says, it changes nothing: the defaults, OPENCLAW_STATE_DIR obeyed, the
    shipped survey template found (issue 15: a copy once broke survey import and pinned config_path)."""
    copy = tmp_path / "config" / "squad.toml"
    copy.parent.mkdir()
    shutil.copy(EXAMPLE, copy)
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "oc")}
    copied, bare = load_settings(copy, env=env), load_settings(write(tmp_path / "empty.toml", ""), env=env)
    assert copied.openclaw == bare.openclaw and copied.openclaw.openclaw_json() == tmp_path / "oc" / "openclaw.json"
    assert copied.store == bare.store and copied.agents == bare.agents and copied.pipeline == bare.pipeline
    assert copied.pipeline.survey_template.exists()
    # the default uncommented in the copy: the shipped template still, not a missing file beside the copy
    text = copy.read_text().replace('# survey_template = "survey.template.json"', 'survey_template = "survey.template.json"')
    text = text.replace("\n# [pipeline]\n", "\n[pipeline]\n", 1)
    assert 'survey_template = "survey.template.json"' in text.splitlines()
    copy.write_text(text)
    assert load_settings(copy, env=env).pipeline.survey_template == bare.pipeline.survey_template
    assert "DESIGN" not in EXAMPLE.read_text() and "reference/" not in EXAMPLE.read_text()


def test_environment_overrides(tmp_path: Path) -> None:
    f = write(tmp_path / "s.toml", '[store]\nkind = "convex"\nurl = "https://a.convex.cloud"\n')
    s = load_settings(f, env={"CONVEX_URL": "https://b.convex.cloud", "CONVEX_DEPLOY_KEY": "prod:b|k",
                              "OPENCLAW_STATE_DIR": str(tmp_path / "oc"), "SQUAD_CONSOLE_DB": str(tmp_path / "x.db")})
    assert s.store.url == "https://b.convex.cloud" and s.store.deploy_key == "prod:b|k"
    assert "prod:b|k" not in repr(s.store)
    assert s.openclaw.state_dir == tmp_path / "oc" and s.store.local_path() == tmp_path / "x.db"
    assert load_settings(f, env={}, store_kind="local").store.kind == "local"


@pytest.mark.parametrize(
    "text,line,key,words",
    [
        ('[store]\nkind = "convex"\npoll_interval = 5s\n', 3, None, "not valid TOML"),
        ('[store]\nkind = "postgres"\n', 2, "store.kind", "must be one of local, convex"),
        ('[store]\n\npoll_intervall = "5s"\n', 3, "store.poll_intervall", "unknown key"),
        ('[store]\npoll_interval = "fast"\n', 2, "store.poll_interval", "not a duration"),
        ('[store]\npoll_interval = "10s"\npoll_interval_idle = "5s"\n', 3, "store.poll_interval_idle", "not be shorter"),
        ('[store]\ndeploy_key = "prod:x|y"\n', 2, "store.deploy_key", "does not belong in squad.toml"),
        ('[[agents]]\nid = "veda"\n\n[[agents]]\nid = "orin"\nheartbeat = "every 15 minutes"\n', 6,
         "agents[1].heartbeat", "not a 5-field cron"),
        ('[[agents]]\nid = "veda"\ntz = "Mars/Olympus"\n', 3, "agents[0].tz", "not a time zone"),
        ('[[agents]]\nid = "veda"\n[[agents]]\nid = "veda"\n', 4, "agents[1].id", "listed twice"),
        ('[[agents]]\nname = "VEDA"\n', 1, "agents[0].id", "is missing"),
        ('[[agents]]\nid = "Veda Bot"\n', 2, "agents[0].id", "not an OpenClaw agent id"),
        ('agents = "veda"\n', 1, "agents", "array of tables"),
        ('[stores]\nkind = "local"\n', 1, "stores", "unknown section"),
        ('[openclaw]\ngateway = "localhost:18789"\n', 2, "openclaw.gateway", "must be a URL"),
        ('[pipeline]\nconcurrency = 0\n', 2, "pipeline.concurrency", "between 1 and 512"),
        ('[pipeline]\nmax_body = "lots"\n', 2, "pipeline.max_body", "not a size"),
        ('[pipeline]\ntimeout = "20s"\ndeadline = "5s"\n', 3, "pipeline.deadline", "not be shorter than timeout"),
        ('[[pipeline.rules]]\nname = "a"\n[[pipeline.rules]]\nname = "b"\nweight = "heavy"\n', 5,
         "pipeline.rules[1].weight", "must be a number"),
        ('[[pipeline.rules]]\nkeywords = ["x"]\n', 1, "pipeline.rules[0].name", "is missing"),
        ('[[pipeline.rules]]\nname = "a"\nkeywords = "pricing"\n', 3, "pipeline.rules[0].keywords", "list of"),
        ('[pipeline.criteria]\nmin_respondents = 2.5\n', 2, "pipeline.criteria.min_respondents", "whole number"),
        ('[pipeline.criteria]\nmin_market_score = 120\n', 2, "pipeline.criteria.min_market_score", "between 0 and 100"),
        ('[pipeline.criteria.must_have]\n"Would Pay" = 3\n', 2, "pipeline.criteria.must_have.Would Pay",
         "not a survey question id"),
    ],
)
def test_bad_files_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str | None, words: str) -> None:
    f = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(f, env={})
    err = info.value
    assert err.path == f and err.line == line and err.key == key, str(err)
    assert words in str(err)
    assert str(err).startswith(f"{f}:{line}: ")


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), (12, 12), ("1d", 86400)])
def test_durations(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "5 minutes", "-5s", True, None, -1])
def test_bad_durations(bad) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_keys_accept_dotted_binding_ids(tmp_path: Path) -> None:
    f = write(tmp_path / "k.toml", '[keys]\nscreen.heartbeats = "h"\n"screen.agents" = "g"\nquit = "x"\n')
    assert load_settings(f, env={}).keys == {"screen.heartbeats": "h", "screen.agents": "g", "quit": "x"}
