import subprocess
import sys

from pandora.cli import COMMANDS, main


def test_help_lists_every_subcommand() -> None:
    result = subprocess.run([sys.executable, "-m", "pandora.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_unknown_subcommand_is_a_usage_error(capsys) -> None:
    try:
        code = main(["no-such-command"])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert "invalid choice" in capsys.readouterr().err
