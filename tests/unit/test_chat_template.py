"""Which chat template is chosen, why, and how the system role is folded."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynclm_tui.core.backends.chat_template import (
    ModelVocab,
    TemplateError,
    check_format,
    choose_template,
    fold_system,
)

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
REJECTS_SYSTEM = (
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{{ '<u>' + m['role'] + ':' + m['content'] + '</u>' }}{% endfor %}"
)
CONVO = [
    {"role": "system", "content": "RULES"},
    {"role": "user", "content": "hello"},
]


def vocab(
    template: str | None = None,
    tokens: tuple[str, ...] = (),
    arch: str = "llama",
    add_bos: bool = False,
) -> ModelVocab:
    return ModelVocab(
        template=template,
        architecture=arch,
        bos="<bos>",
        eos="<eos>",
        add_bos=add_bos,
        is_token=lambda text: text in tokens,
    )


def test_the_models_own_template_is_used_as_is() -> None:
    t = choose_template("auto", vocab(CHATML))
    assert not t.choice.fallback and not t.choice.fold_system and t.choice.notice() == ""
    assert t.render(CONVO).startswith("<|im_start|>system\nRULES<|im_end|>")


def test_a_template_that_rejects_system_gets_it_folded_into_the_first_message() -> None:
    t = choose_template("auto", vocab(REJECTS_SYSTEM))
    assert t.choice.fold_system and not t.choice.fallback
    assert t.render(CONVO) == "<u>user:RULES\n\nhello</u>"
    assert "first message" in t.choice.notice()


def test_no_template_uses_the_one_its_vocabulary_names() -> None:
    t = choose_template("auto", vocab(None, ("<start_of_turn>", "<end_of_turn>"), add_bos=True))
    assert t.choice.fallback and t.choice.label.startswith("gemma")
    assert "no chat template" in t.choice.why and "<start_of_turn>" in t.choice.why
    assert t.choice.end_marker == "<end_of_turn>"
    text = t.render(CONVO)
    # llama.cpp's gemma template folds the system text itself; BOS is added.
    assert text.startswith("<bos><start_of_turn>user\nRULES") and "hello" in text
    assert text.endswith("<start_of_turn>model\n")
    assert "chat template: gemma" in t.choice.notice()


def test_no_template_and_no_markers_falls_back_by_architecture_then_chatml() -> None:
    by_arch = choose_template("auto", vocab(None, arch="qwen2"))
    assert by_arch.choice.label.startswith("chatml") and "qwen2 architecture" in by_arch.choice.why
    unknown = choose_template("auto", vocab(None, arch="mystery"))
    assert unknown.choice.label.startswith("chatml") and "no known template" in unknown.choice.why
    assert unknown.choice.end_marker is None  # <|im_end|> is not one token here
    assert unknown.render(CONVO).endswith("<|im_start|>assistant\n")


def test_a_template_that_does_not_compile_falls_back_with_the_reason() -> None:
    broken = "{% for m in messages %}{{ m }"
    t = choose_template("auto", vocab(broken, ("<|im_start|>", "<|im_end|>")))
    assert t.choice.fallback and "does not compile" in t.choice.why
    assert t.choice.label.startswith("chatml")


def test_named_and_file_formats(tmp_path: Path) -> None:
    assert (
        choose_template("llama3", vocab(CHATML))
        .render(CONVO)
        .startswith("<|start_header_id|>system<|end_header_id|>")
    )
    jinja = tmp_path / "t.jinja"
    jinja.write_text(REJECTS_SYSTEM)
    t = choose_template(str(jinja), vocab(CHATML))
    assert t.choice.label == "file t.jinja" and t.choice.fold_system and not t.choice.fallback


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("nope", "unknown chat format 'nope'"),
        ("/no/such/file.jinja", "template file not found"),
    ],
)
def test_bad_formats_are_one_line_errors(spec: str, problem: str) -> None:
    message = check_format(spec)
    assert message is not None and problem in message and "\n" not in message
    with pytest.raises(TemplateError, match=problem):
        choose_template(spec, vocab(CHATML))


def test_a_file_template_that_cannot_render_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jinja"
    bad.write_text("{{ raise_exception('never') }}")
    with pytest.raises(TemplateError, match=r"bad\.jinja: rendering fails: never"):
        choose_template(str(bad), vocab(CHATML))


def test_fold_system_without_a_user_message_makes_one() -> None:
    assert fold_system([{"role": "system", "content": "S"}]) == [{"role": "user", "content": "S"}]
    assert fold_system(CONVO[1:]) == CONVO[1:]
