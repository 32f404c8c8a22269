import json
import logging

import pytest
import structlog

from pandora.logging import REDACTED, configure_logging, get_logger, redact_text

TOKEN = "MTA1MjM0NTY3ODkwMTIzNDU2Nw.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture(autouse=True)
def reset_structlog():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_token_shaped_strings_are_redacted() -> None:
    assert redact_text(f"connecting with {TOKEN} now") == f"connecting with {REDACTED} now"
    assert redact_text("speaker 123456789012345678 joined") == "speaker 123456789012345678 joined"


def test_console_logs_never_show_the_token(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PANDORA_TOKEN", "plain-secret-not-token-shaped")
    monkeypatch.delenv("PANDORA_ENV", raising=False)
    configure_logging()
    log = get_logger("test")
    log.info("login", token="plain-secret-not-token-shaped", detail="used plain-secret-not-token-shaped")
    logging.getLogger("discord.http").info("header Bot %s", TOKEN)
    err = capsys.readouterr().err
    assert "plain-secret-not-token-shaped" not in err
    assert TOKEN not in err
    assert "login" in err and REDACTED in err


def test_production_logs_are_ecs_json(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PANDORA_ENV", "production")
    monkeypatch.setenv("PANDORA_TOKEN", TOKEN)
    configure_logging()
    get_logger("pandora.test").info("recording started", recording_id="123", note=f"token {TOKEN}")
    logging.getLogger("discord.client").warning("stdlib line")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [line["message"] for line in lines] == ["recording started", "stdlib line"]
    assert all(line["ecs.version"] and line["@timestamp"] for line in lines)
    assert [line["log.level"] for line in lines] == ["info", "warning"]
    assert lines[0]["recording_id"] == "123"
    assert TOKEN not in json.dumps(lines)


def test_exceptions_are_errors_with_a_stack_trace(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PANDORA_ENV", "production")
    configure_logging()
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        get_logger("pandora.test").exception("flush failed")
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line["log.level"] == "error"
    assert "RuntimeError: disk full" in line["error"]["stack_trace"]
