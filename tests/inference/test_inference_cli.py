"""`freechat inference ...` argument handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.cli import main
from inference.demo_model import build_demo_model, corpus, is_valid_model


def test_demo_model_command_is_idempotent(
    demo_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-model", str(demo_model_path)]) == 0
    assert capsys.readouterr().out.strip() == str(demo_model_path)
    assert build_demo_model(demo_model_path) == demo_model_path
    assert is_valid_model(demo_model_path)


def test_serve_with_missing_model_fails_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--model", str(tmp_path / "nowhere"), "--no-fallback", "--port", "0"])
    assert code == 1
    assert "nowhere" in capsys.readouterr().err


def test_corpus_without_locale_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import inference.demo_model as demo

    monkeypatch.setattr(demo, "LOCALE_DIR", tmp_path / "no-locale")
    texts = corpus()
    assert sum(len(t) for t in texts) > 100_000  # stdlib sources alone
    tokenizer = demo.train_tokenizer([demo.FALLBACK_TEXT * 4])
    assert tokenizer.decode(tokenizer.encode("你好，世界").ids) == "你好，世界"
