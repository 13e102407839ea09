"""`squad-console vault provide` (OpenClaw's exec secret provider, protocol v1) and `vault
provider-config`, without OpenClaw: the id syntax, the answers, the path rules, and a hypothesis
property driving `answer` (in process) and a few subprocess calls with malformed, oversized and
hostile requests: always JSON (exit 0) or nothing on stdout and a clear non-zero exit; never a
traceback; never a secret on stderr. The real OpenClaw reads from it in
tests/test_vault_provider_real.py."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from console import cli
from console.service.vault import Vault, parse_key
from console.service.vault import provider as P
from tests.conftest import ROOT

KEY_HEX = "c3" * 32
WRONG_HEX = "d4" * 32
TOKEN = "planted-gateway-token-5b2f11"
API_KEY = "planted-api-key-0e9d44"
NESTED = "planted-nested-77aa01"
SECRETS = (TOKEN, API_KEY, NESTED, KEY_HEX, WRONG_HEX)
FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def make_vault(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "vault.json"
    v = Vault(path, key=parse_key(KEY_HEX))
    v.put("openclaw/gateway-token", (TOKEN + "\n").encode())
    v.put("openclaw/models", json.dumps({"openai": {"apiKey": API_KEY}, "list": [1, {"deep": NESTED}],
                                         "num": 7}).encode())
    v.put("binary", b"\xff\xfe not text")
    v.put("with-nul", b"a\0b")
    v.put("gone", b"x")
    v.remove("gone")
    return path


@pytest.fixture(scope="module")
def vault_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vault(tmp_path_factory.mktemp("provider") / "data")


def request(*ids: object, version: object = 1, provider: object = "squadvault") -> bytes:
    return json.dumps({"protocolVersion": version, "provider": provider, "ids": list(ids)}).encode()


def key_vault(path: Path, hex_key: str = KEY_HEX) -> Vault:
    return P.provider_vault(path, {"CONVEX_VAULT_KEY": hex_key, "SQUAD_CONSOLE_KEYRING": "off"})


# ------------------------------------------------------------------------------ ids
def test_alias_and_grammars_are_openclaws() -> None:
    assert P.ALIAS_RE.fullmatch(P.PROVIDER_ALIAS)
    assert not P.ALIAS_RE.fullmatch("squadvault\n")  # fullmatch: JavaScript's `$` is the string's end
    assert not P.valid_exec_id("a/../b") and not P.valid_exec_id("a/./b") and not P.valid_exec_id("a\n")
    assert P.valid_exec_id("providers/openai#apiKey") and P.valid_exec_id("a:b")


def test_id_syntax() -> None:
    assert P.parse_ref_id("openclaw/gateway-token") == ("openclaw/gateway-token", ())
    assert P.parse_ref_id("openclaw/models#openai/apiKey") == ("openclaw/models", ("openai", "apiKey"))
    for no_entry in ("a:b", "x#", "x#a//b", "x#a#b", "a" * 129):
        assert P.parse_ref_id(no_entry) is None
    assert P.ref_id("openclaw/models", ["openai", "apiKey"]) == "openclaw/models#openai/apiKey"
    assert P.secret_ref("openclaw/gateway-token") == {"source": "exec", "provider": "squadvault",
                                                      "id": "openclaw/gateway-token"}
    with pytest.raises(P.VaultError):
        P.ref_id("bad name")
    with pytest.raises(P.VaultError):
        P.ref_id("x", "a#b")


@given(entry=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True),
       field=st.lists(st.from_regex(r"[A-Za-z0-9_:.-]{1,12}", fullmatch=True), max_size=3))
@FAST
def test_ref_id_round_trips(entry: str, field: list[str]) -> None:
    try:
        text = P.ref_id(entry, field or None)
    except P.VaultError:
        return  # a name the vault or OpenClaw refuses (e.g. `a..b`, a `.` segment): refused, not mangled
    assert P.valid_exec_id(text)
    assert P.parse_ref_id(text) == (entry, tuple(field))


# --------------------------------------------------------------------------- answers
def test_answers_values_and_per_id_errors(vault_file: Path) -> None:
    ids = ["openclaw/gateway-token", "openclaw/models#openai/apiKey", "openclaw/models#list/1/deep",
           "openclaw/models#num", "openclaw/models#openai", "missing", "gone", "a:b", "openclaw/models#nope",
           "openclaw/gateway-token#x", "binary", "with-nul", "openclaw/models#list/9"]
    out, code, err = P.answer(request(*ids, "missing"), key_vault(vault_file))
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["protocolVersion"] == 1
    assert doc["values"] == {"openclaw/gateway-token": TOKEN, "openclaw/models#openai/apiKey": API_KEY,
                             "openclaw/models#list/1/deep": NESTED, "openclaw/models#num": 7,
                             "openclaw/models#openai": {"apiKey": API_KEY}}
    assert doc["errors"] == {"missing": {"code": "NOT_FOUND"}, "gone": {"code": "NOT_FOUND"},
                             "a:b": {"code": "NOT_FOUND"}, "openclaw/models#nope": {"code": "NOT_FOUND"},
                             "openclaw/gateway-token#x": {"code": "INVALID_VALUE"},
                             "binary": {"code": "INVALID_VALUE"}, "with-nul": {"code": "INVALID_VALUE"},
                             "openclaw/models#list/9": {"code": "NOT_FOUND"}}
    assert out.endswith(b"\n") and out.isascii()


def test_empty_ids_need_no_key(vault_file: Path) -> None:
    out, code, _ = P.answer(request(), P.provider_vault(vault_file, {"SQUAD_CONSOLE_KEYRING": "off"}))
    assert code == 0 and json.loads(out) == {"protocolVersion": 1, "values": {}}


@pytest.mark.parametrize(("vault_key", "words"), [
    (WRONG_HEX, "written with key"),
    (None, "no vault key"),
    ("zz", "not a vault key"),
])
def test_an_unreadable_vault_is_exit_1_with_the_reason(vault_file: Path, vault_key: str | None, words: str) -> None:
    env = {"SQUAD_CONSOLE_KEYRING": "off", **({"CONVEX_VAULT_KEY": vault_key} if vault_key else {})}
    out, code, err = P.answer(request("openclaw/gateway-token"), P.provider_vault(vault_file, env))
    assert (out, code) == (b"", 1)
    assert words in err and "fix:" in err
    assert not any(s in err for s in SECRETS)


def test_no_vault_file_is_exit_1(tmp_path: Path) -> None:
    out, code, err = P.answer(request("x"), key_vault(tmp_path / "none" / "vault.json"))
    assert (out, code) == (b"", 1) and "no vault file" in err


@pytest.mark.parametrize(("body", "words"), [
    (b"", "not JSON"),
    (b"\xff{}", "not UTF-8"),
    (b"[1]", "JSON array"),
    (request("x", version=2), "protocolVersion is 2"),
    (request("x", version=True), "protocolVersion is True"),
    (request("x", version=1.0), "protocolVersion is 1.0"),
    (request("x", version="1"), "protocolVersion is string"),
    (json.dumps({"protocolVersion": 1, "provider": "squadvault"}).encode(), "ids is missing"),
    (json.dumps({"protocolVersion": 1, "provider": "squadvault", "ids": "x"}).encode(), "ids is a JSON string"),
    (request(3), "ids[0] is a JSON number"),
    (request("ok", "a/../b"), "ids[1] is not an exec ref id"),
    (request("a" * 257), "ids[0] is not an exec ref id"),
    (request("x\n"), "ids[0] is not an exec ref id"),
    (request("x", provider="Bad"), "provider is not a provider alias"),
    (request(*[f"i{n}" for n in range(513)]), "more than 512"),
    (b"[" * 100_000, "nested too deeply"),
    (b" " * (P.MAX_REQUEST_BYTES + 1), "larger than 262144 bytes"),
])
def test_malformed_requests_exit_2(vault_file: Path, body: bytes, words: str) -> None:
    out, code, err = P.answer(body, key_vault(vault_file))
    assert (out, code) == (b"", 2)
    assert words in err, err


def test_read_request_is_bounded() -> None:
    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b):  # type: ignore[override]
            b[:] = b"x" * len(b)
            return len(b)

    data = P.read_request(io.BufferedReader(Endless()))
    assert len(data) == P.MAX_REQUEST_BYTES + 1


# ------------------------------------------------------------------------ properties
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
JSON = st.recursive(JSON_LEAF, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=20)
HOSTILE_ID = st.one_of(
    st.sampled_from(["openclaw/gateway-token", "openclaw/models#openai/apiKey", "gone", "binary", "x#y"]),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1f), max_size=10),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,300}", fullmatch=True),
    st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2),
)
REQUESTS = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda d: json.dumps(d).encode()),
    st.fixed_dictionaries({}, optional={"protocolVersion": st.one_of(st.just(1), JSON), "provider": st.one_of(st.just("squadvault"), JSON),
                                        "ids": st.one_of(st.lists(HOSTILE_ID, max_size=6), JSON)}).map(lambda d: json.dumps(d).encode()),
    st.lists(HOSTILE_ID, max_size=6).map(lambda ids: request(*ids)),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.text(max_size=50).map(lambda t: t.encode("utf-16")),
)


def check_answer(result: P.Answer, ids_asked: object = None) -> None:
    out, code, err = result
    assert not any(s.encode() in err.encode() for s in SECRETS)
    assert "Traceback" not in err
    if code == 0:
        doc = json.loads(out)
        assert err == "" and doc["protocolVersion"] == 1 and isinstance(doc["values"], dict)
        assert set(doc.get("errors", {})).isdisjoint(doc["values"])
        if isinstance(ids_asked, list):
            assert set(doc["values"]) | set(doc.get("errors", {})) == set(ids_asked)
    else:
        assert code in (1, 2) and out == b"" and err.startswith("squad-console vault provide")


@given(body=REQUESTS)
@example(body=b"[" * 200_000)
@example(body=b'{"protocolVersion":1,"provider":"squadvault","ids":["\\u0000"]}')
@example(body=request("openclaw/gateway-token\u202e", "\x1b[31m"))
@FAST
def test_any_request_gets_json_or_a_clear_exit(vault_file: Path, body: bytes) -> None:
    try:
        asked = json.loads(body).get("ids")
    except Exception:  # noqa: BLE001 - only to know what was asked
        asked = None
    check_answer(P.answer(body, key_vault(vault_file)), asked)


@given(ids=st.lists(st.sampled_from(["openclaw/gateway-token", "openclaw/models#openai/apiKey", "missing"]),
                    min_size=1, max_size=5))
@settings(FAST, max_examples=30)
def test_a_wrong_key_never_answers_a_value(vault_file: Path, ids: list[str]) -> None:
    result = P.answer(request(*ids), key_vault(vault_file, WRONG_HEX))
    check_answer(result)
    assert result.exit_code == 1


# -------------------------------------------------------------- the command, for real
HOSTILE_BODIES = [
    request("openclaw/gateway-token", "openclaw/models#openai/apiKey", "missing"),
    b"\xff\xfe\x00garbage",
    b"[" * 50_000,
    request("x", version=2),
    request("\x1b]52;c;aGk=\x07"),
    b"{" * 10 + b'"' * (P.MAX_REQUEST_BYTES + 10),
]


def run_provide(body: bytes, vault_file: Path, key: str = KEY_HEX) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "CONVEX_VAULT_KEY": key,
           "SQUAD_CONSOLE_KEYRING": "off"}  # what OpenClaw gives: passEnv only (+ what runs this tree)
    return subprocess.run([sys.executable, "-m", "console", "vault", "provide", "--vault-file", str(vault_file)], check=False,
                          input=body, capture_output=True, env=env, cwd=str(vault_file.parent), timeout=60)


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=["ok", "not-utf8", "deep", "version", "escape", "oversized"])
def test_the_command_answers_json_or_exits_clearly(vault_file: Path, body: bytes) -> None:
    p = run_provide(body, vault_file)
    err = p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and not any(s in err for s in SECRETS)
    if p.returncode == 0:
        doc = json.loads(p.stdout)
        assert doc["values"]["openclaw/gateway-token"] == TOKEN and doc["errors"] == {"missing": {"code": "NOT_FOUND"}}
        assert err == ""
    else:
        assert p.returncode == 2 and p.stdout == b"" and "bad request" in err
        assert "\x1b" not in err


def test_the_command_with_the_wrong_key(vault_file: Path) -> None:
    p = run_provide(HOSTILE_BODIES[0], vault_file, WRONG_HEX)
    err = p.stderr.decode()
    assert (p.returncode, p.stdout) == (1, b"")
    assert "written with key" in err and not any(s in err for s in SECRETS)


# ----------------------------------------------------------------- provider-config
def script(folder: Path, mode: int = 0o755, shebang: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "squad-console"
    path.write_text(f"#!{shebang or sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                    "from console.cli import main\nsys.exit(main())\n")
    path.chmod(mode)
    return path


def test_provider_config_for_a_good_command(tmp_path: Path) -> None:
    cmd = script(tmp_path / "bin")
    cfg = P.provider_config(tmp_path / "data" / "vault.json", command=cmd, config_file=None)
    assert cfg == {"source": "exec", "command": str(cmd),
                   "args": ["vault", "provide", "--vault-file", str(tmp_path / "data" / "vault.json")],
                   "passEnv": ["CONVEX_VAULT_KEY", "SQUAD_CONSOLE_KEYRING", "HOME", "XDG_RUNTIME_DIR",
                               "DBUS_SESSION_BUS_ADDRESS"],
                   "trustedDirs": [str(tmp_path / "bin")], "jsonOnly": True, "timeoutMs": 5000}
    lean = P.provider_config(tmp_path / "v.json", command=cmd, keyring=False, pass_env=["EXTRA_VAR"], timeout_ms=3000)
    assert lean["passEnv"] == ["CONVEX_VAULT_KEY", "SQUAD_CONSOLE_KEYRING", "EXTRA_VAR"] and lean["timeoutMs"] == 3000


def test_provider_config_refuses_what_openclaw_refuses(tmp_path: Path) -> None:
    good = script(tmp_path / "bin")
    link = tmp_path / "link"
    link.symlink_to(good)
    cases = {
        "is a symlink": link,
        "not an absolute path": Path("bin/squad-console"),
        "cannot be read": tmp_path / "nope",
        "not a regular file": tmp_path,
        "written by its group or by others": script(tmp_path / "gw", 0o775),
        "not executable": script(tmp_path / "nx", 0o644),
        "not an executable absolute path": script(tmp_path / "sb", shebang="python3"),
        "no PATH": script(tmp_path / "env", shebang="/usr/bin/env python3"),
    }
    if os.getuid() == 0:
        other = script(tmp_path / "other")
        os.chown(other, 65534, -1)
        cases["not to this user"] = other
    for words, cmd in cases.items():
        with pytest.raises(P.ProviderConfigError) as exc:
            P.provider_config(tmp_path / "v.json", command=cmd)
        assert words in exc.value.message, (words, exc.value.message)
        assert exc.value.hint
    assert P.provider_config(tmp_path / "v.json", command=script(tmp_path / "env2", shebang="/usr/bin/env python3"),
                             pass_env=["PATH"])["passEnv"][-1] == "PATH"
    with pytest.raises(P.ProviderConfigError):
        P.provider_config(tmp_path / "v.json", command=good, pass_env=["lower"])
    with pytest.raises(P.ProviderConfigError):
        P.check_command(good, trusted_dirs=[str(tmp_path / "elsewhere")])


def test_find_command_resolves_links(tmp_path: Path) -> None:
    good = script(tmp_path / "venv" / "bin")
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "squad-console").symlink_to(good)  # pipx's ~/.local/bin link
    assert P.find_command("/x/console/__main__.py", {"PATH": str(tmp_path / "path")}) == good
    assert P.find_command(str(tmp_path / "path" / "squad-console"), {"PATH": ""}) == good
    with pytest.raises(P.ProviderConfigError, match="no `squad-console` command"):
        P.find_command("/x/console/__main__.py", {"PATH": str(tmp_path / "empty")})


def test_cli_provider_config_prints_the_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQUAD_CONSOLE_DB", str(tmp_path / "data" / "squad.db"))
    cmd = script(tmp_path / "bin")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["vault", "provider-config", "--command", str(cmd), "--no-keyring"], out=out, err=err) == 0
    doc = json.loads(out.getvalue())
    entry = doc["secrets"]["providers"]["squadvault"]
    assert entry["command"] == str(cmd) and entry["args"][-1] == str(tmp_path / "data" / "vault.json")
    assert "SecretRef" in err.getvalue()
    out = io.StringIO()
    assert cli.main(["vault", "provider-config", "--command", str(cmd), "--provider-only", "--alias", "vault2"],
                    out=out, err=io.StringIO()) == 0
    assert json.loads(out.getvalue())["source"] == "exec"
    err = io.StringIO()
    assert cli.main(["vault", "provider-config", "--alias", "Bad Alias"], out=io.StringIO(), err=err) == 2
    err = io.StringIO()
    link = tmp_path / "link"
    link.symlink_to(cmd)
    assert cli.main(["vault", "provider-config", "--command", str(link)], out=io.StringIO(), err=err) == 1
    assert "symlink" in err.getvalue() and "realpath" in err.getvalue()


def test_cli_provide_in_process(vault_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEX_VAULT_KEY", KEY_HEX)
    monkeypatch.setenv("SQUAD_CONSOLE_KEYRING", "off")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(request("openclaw/gateway-token"))))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["vault", "provide", "--vault-file", str(vault_file)], out=out, err=err) == 0
    assert json.loads(out.getvalue())["values"] == {"openclaw/gateway-token": TOKEN} and err.getvalue() == ""


def test_a_loose_vault_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    path = make_vault(folder)
    folder.chmod(0o777)
    p = run_provide(request("openclaw/gateway-token"), path)
    assert (p.returncode, p.stdout) == (1, b"") and b"every user" in p.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777  # left as it is
