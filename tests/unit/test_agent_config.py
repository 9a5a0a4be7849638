"""The agent's TOML configuration: the example of docs/agent.md parses; every mistake is a
ConfigError naming the table and key (the command turns it into exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from serviceguide.agent.config import MESSAGES, ConfigError, load_config, parse_config

pytestmark = pytest.mark.unit

EXAMPLE = """
[api]
base_url = "http://127.0.0.1:8000"
api_user = 12
api_key = "secret"

[state]
path = "./var/agent.sqlite3"

[sink]
jsonl = "./var/imported-orders.jsonl"

[onapi.SNFDMO]
url = "http://127.0.0.1:8001/SNFDMO/onapi/2.4"
username = "sim"
password = "sim"
services = { AB100100 = "BB-100-100" }
"""


def test_the_documented_example_parses_with_paths_relative_to_the_file(tmp_path: Path):
    cfg = parse_config(EXAMPLE, tmp_path)
    assert cfg.api.api_user == 12 and cfg.api.base_url == "http://127.0.0.1:8000"
    assert cfg.state_path == tmp_path / "var/agent.sqlite3"
    assert cfg.sink_path == tmp_path / "var/imported-orders.jsonl"
    net = cfg.networks["SNFDMO"]
    assert net.services == {"AB100100": "BB-100-100"} and net.username == "sim"


def test_load_config_resolves_against_the_files_directory(tmp_path: Path):
    f = tmp_path / "conf" / "agent.toml"
    f.parent.mkdir()
    f.write_text(EXAMPLE, encoding="utf-8")
    assert load_config(f).state_path == (tmp_path / "conf").resolve() / "var/agent.sqlite3"


def test_a_network_table_is_optional_and_services_default_to_none(tmp_path: Path):
    text = EXAMPLE.replace('services = { AB100100 = "BB-100-100" }\n', "")
    assert parse_config(text).networks["SNFDMO"].services == {}
    without = EXAMPLE[: EXAMPLE.index("[onapi.SNFDMO]")]
    assert parse_config(without).networks == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("[api]", "[api"), "not valid TOML"),
        (
            lambda t: t.replace("api_user = 12", 'api_user = "12"'),
            "[api] api_user: must be an integer",
        ),
        (
            lambda t: t.replace("api_user = 12", "api_user = true"),
            "[api] api_user: must be an integer",
        ),
        (lambda t: t.replace('api_key = "secret"\n', ""), "[api] api_key: missing"),
        (
            lambda t: t.replace('api_key = "secret"', 'api_key = ""'),
            "[api] api_key: must be a non-empty",
        ),
        (
            lambda t: t.replace("http://127.0.0.1:8000", "127.0.0.1:8000"),
            "[api] base_url: must start",
        ),
        (lambda t: t.replace("[state]\npath", "[state]\npth"), "[state]: unknown key 'pth'"),
        (lambda t: t.replace("[sink]\njsonl", "[sink]\njson"), "[sink]: unknown key 'json'"),
        (lambda t: t.replace("[sink]", "[sinks]"), "unknown table [sinks]"),
        (
            lambda t: t.replace('[state]\npath = "./var/agent.sqlite3"\n', ""),
            "missing table [state]",
        ),
        (lambda t: t.replace('password = "sim"\n', ""), "[onapi.SNFDMO] password: missing"),
        (
            lambda t: t.replace('url = "http://127.0.0.1:8001', 'url = "ftp://x'),
            "[onapi.SNFDMO] url",
        ),
        (lambda t: t.replace("services =", "servcies ="), "[onapi.SNFDMO]: unknown key 'servcies'"),
        (lambda t: t.replace('"BB-100-100"', "100"), "[onapi.SNFDMO] services: must be a table"),
        (lambda t: t.replace("api_user = 12", "api_user = 12\napi_user = 13"), "not valid TOML"),
        (lambda t: 'onapi = "x"\n' + t[: t.index("[onapi.")], "[onapi] must be a table"),
        (lambda t: t.replace("[onapi.SNFDMO]", "[x]"), "unknown table [x]"),
    ],
)
def test_mistakes_name_the_table_and_key(change, expected: str):
    with pytest.raises(ConfigError) as e:
        parse_config(change(EXAMPLE))
    assert expected in str(e.value)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8001/SNFDMO/onapi/2.4",
        "http://127.0.0.1:8001/SNFDMO/onapi/2.4/",
        "http://127.0.0.1:8001/SNFDMO/onapi/2.4/orders",
        "http://127.0.0.1:8001/SNFDMO/onapi/2.4/orders/",
    ],
)
def test_the_onapi_url_may_be_given_with_or_without_the_orders_endpoint(url: str, tmp_path: Path):
    cfg = parse_config(EXAMPLE.replace("http://127.0.0.1:8001/SNFDMO/onapi/2.4", url), tmp_path)
    assert cfg.networks["SNFDMO"].url == "http://127.0.0.1:8001/SNFDMO/onapi/2.4"


SP = """
[sp]
host = "0.0.0.0"
port = 8090
username = "portal"
password = "portal-secret"
"""


def test_the_sp_table_is_optional_and_has_defaults(tmp_path: Path):
    assert parse_config(EXAMPLE, tmp_path).sp is None
    sp = parse_config(EXAMPLE + SP, tmp_path).sp
    assert sp is not None
    assert (sp.host, sp.port, sp.base_path, sp.username) == (
        "0.0.0.0",
        8090,
        "/onapi/2.6",
        "portal",
    )
    assert (sp.answer_within, sp.workers) == (5.0, 4)
    assert sp.messages == MESSAGES
    assert "portal-secret" not in repr(sp)  # never printed with the configuration


def test_the_sp_table_takes_a_hash_a_base_path_and_messages(tmp_path: Path):
    text = (
        EXAMPLE
        + SP.replace('password = "portal-secret"', 'password_hash = "$argon2id$v=19$m=8,t=1,p=1$x"')
        + 'base_path = "/api/onapi/2.6/"\nanswer_within = 2\nworkers = 2\n'
        + 'message_rejected = "Tyvärr: {cause}"\n'
    )
    sp = parse_config(text, tmp_path).sp
    assert sp is not None
    assert (sp.password, sp.password_hash[:9]) == ("", "$argon2id")
    assert (sp.base_path, sp.answer_within, sp.workers) == ("/api/onapi/2.6", 2.0, 2)
    assert sp.messages["rejected"] == "Tyvärr: {cause}"
    assert sp.messages["confirmed"] == MESSAGES["confirmed"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("port = 8090\n", ""), "[sp] port: missing"),
        (lambda t: t.replace("port = 8090", 'port = "8090"'), "[sp] port: must be an integer"),
        (lambda t: t.replace("port = 8090", "port = 70000"), "[sp] port: must be 0–65535"),
        (lambda t: t.replace('username = "portal"\n', ""), "[sp] username: missing"),
        (
            lambda t: t.replace('password = "portal-secret"\n', ""),
            "[sp]: give exactly one of password and password_hash",
        ),
        (
            lambda t: t + 'password_hash = "$argon2id$x"\n',
            "[sp]: give exactly one of password and password_hash",
        ),
        (
            lambda t: t.replace('password = "portal-secret"', 'password_hash = "sha256:abc"'),
            "[sp] password_hash: must be an argon2 hash",
        ),
        (lambda t: t.replace('password = "portal-secret"', 'password = ""'), "[sp] password"),
        (lambda t: t + 'base_path = "onapi/2.6"\n', "[sp] base_path: must be a path"),
        (lambda t: t + 'base_path = "/onapi/{x}"\n', "[sp] base_path: must be a path"),
        (lambda t: t + "answer_within = 0\n", "[sp] answer_within: must be a number"),
        (lambda t: t + "answer_within = 61\n", "[sp] answer_within: must be a number"),
        (lambda t: t + 'answer_within = "5"\n', "[sp] answer_within: must be a number"),
        (lambda t: t + "answer_within = true\n", "[sp] answer_within: must be a number"),
        (lambda t: t + "workers = 0\n", "[sp] workers: must be 1–64"),
        (lambda t: t + "timeout = 3\n", "[sp]: unknown key 'timeout'"),
        (lambda t: t + "message_thanks = 'x'\n", "[sp]: unknown key 'message_thanks'"),
        (lambda t: t + f"message_manual = '{'x' * 256}'\n", "[sp] message_manual: at most 255"),
    ],
)
def test_sp_mistakes_name_the_key(change, expected: str):
    with pytest.raises(ConfigError) as e:
        parse_config(EXAMPLE + change(SP))
    assert expected in str(e.value)


def test_sp_that_is_not_a_table_is_refused():
    with pytest.raises(ConfigError, match=r"\[sp\] must be a table"):
        parse_config('sp = "x"\n' + EXAMPLE)


def test_the_examples_of_docs_agent_md_parse(tmp_path: Path):
    doc = (Path(__file__).parents[2] / "docs" / "agent.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    assert len(blocks) == 2  # the configuration, and its [sp] table
    cfg = parse_config("\n".join(blocks), tmp_path)
    assert cfg.sp is not None and (cfg.sp.port, cfg.sp.host) == (8090, "0.0.0.0")
    assert cfg.sp.password_hash.startswith("$argon2id$")
