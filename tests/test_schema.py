import pytest

from knowledge_base.schema import KbFileError, dump_csv, dump_yaml, read_text


def test_valid_file_roundtrips_through_yaml_and_csv(sample_kb):
    report = read_text(sample_kb.read_text(encoding="utf-8"))
    assert report.ok and len(report.entries) == 5
    again = read_text(dump_yaml(report.entries))
    assert again.entries == report.entries
    via_csv = read_text(dump_csv(report.entries), fmt="csv")
    assert via_csv.entries == report.entries


def test_every_problem_is_reported_with_entry_and_field():
    text = """
faqs:
  - id: a
    question: 问题一
    answer: 答案
  - id: a
    question: 重复的
    answer: 答案
    tags: 不是列表
  - id: empty-answer
    question: 问题
    answer: "  "
  - id: Bad Id
    question: 问题
    answer: 答
  - id: bad-types
    question: 问题
    answer: 答
    alternates: 不是列表
    colour: red
  - 只是一个字符串
"""
    report = read_text(text)
    errs = "\n".join(report.errors)
    assert "entry #2 (a): id: duplicate of entry #1" in errs
    assert "entry #2 (a): tags:" in errs  # a duplicate's other problems are reported too
    assert "entry #3 (empty-answer): answer:" in errs
    assert "entry #4 (Bad Id): id:" in errs
    assert "entry #5 (bad-types): alternates:" in errs
    assert "entry #5 (bad-types): colour: unknown field" in errs
    assert "entry #6: must be a mapping" in errs
    assert [e.id for e in report.entries] == ["a"]


def test_file_level_errors_are_clear():
    with pytest.raises(KbFileError, match="faqs"):
        read_text("just: text")
    with pytest.raises(KbFileError, match="YAML"):
        read_text("faqs: [unclosed")


def test_ids_fit_a_button_and_may_use_capitals():
    from bot.pipeline import SHOW_FAQ

    longest, too_long = "A" + "b" * 59, "a" * 61
    report = read_text(f"faqs:\n  - {{id: {longest}, question: 问, answer: 答}}\n"
                       f"  - {{id: {too_long}, question: 问, answer: 答}}\n")
    assert [e.id for e in report.entries] == [longest]
    assert len((SHOW_FAQ + longest).encode()) <= 64  # Telegram's cap on a button's callback data
    assert f"({too_long}): id: " in "\n".join(report.errors)
