"""`driverhome study ...` as external checks call it: real processes on a fresh config."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
import yaml
from conftest import DRIVERHOME, ROOT

LIBRARY = ROOT / "knowledge_base" / "study.yml"


def run(cfg, *args, check: bool = True):
    proc = subprocess.run([DRIVERHOME, "--config", str(cfg), *args], capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def cfg(make_config):
    return make_config(f"study:\n  library_file: {LIBRARY}\n")


def test_today_is_a_read_only_preview(cfg, tmp_path):
    first = json.loads(run(cfg, "study", "today", "--group", "-1001234", "--json").stdout)
    assert {"id", "title", "body"} <= set(first) and first["title"] and first["body"]
    again = json.loads(run(cfg, "study", "today", "--group", "-1001234", "--json").stdout)
    assert again == first  # nothing consumed
    ahead = [json.loads(run(cfg, "study", "today", "--group", "-1001234", "--date", d, "--json").stdout)["id"]
             for d in ("2030-01-02", "2030-01-03")]
    assert ahead[0] != ahead[1]
    with sqlite3.connect(tmp_path / "data" / "test.db") as con:
        assert con.execute("select count(*) from study_sends").fetchone() == (0,)
    festival = json.loads(run(cfg, "study", "today", "--group", "-1001234", "--date", "2027-07-01", "--json").stdout)
    assert festival["id"] == "day-july1-2027"
    text = run(cfg, "study", "today", "--group", "-1001234", "--date", "2030-01-02").stdout
    assert "每日学习" in text and "1月2日" in text
    bad = run(cfg, "study", "today", "--group", "-1", "--date", "tomorrow", check=False)
    assert bad.returncode != 0


def test_plan_summarises_the_rotation(cfg):
    r = json.loads(run(cfg, "study", "plan", "--groups", "200", "--days", "200", "--json").stdout)
    assert r["groups"] == 200 and r["days"] == 200 and r["items"] >= 60
    assert r["early_repeats"] == 0 and r["back_to_back_repeats"] == 0
    assert r["coverage_min"] == 1.0 and r["max_repeats_per_group"] <= r["expected_max_repeats"]
    assert r["distinct_first_day_items"] > 10  # groups do not all get the same item
    text = run(cfg, "study", "plan", "--groups", "3", "--days", "10").stdout
    assert "repeats per group" in text and "coverage" in text


def test_validate_lists_every_problem(cfg, tmp_path):
    assert "OK" in run(cfg, "study", "validate", str(LIBRARY)).stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"items": [
        {"id": "a", "title": "t", "body": "b"},
        {"id": "b", "title": "t", "body": "b", "source": "s", "quiz": {"question": "q", "options": ["x", "y"],
                                                                        "answer": 5}}]}), encoding="utf-8")
    proc = run(cfg, "study", "validate", str(bad), check=False)
    assert proc.returncode != 0
    assert "entry #1 (a): source: Field required" in proc.stdout
    assert "entry #2 (b): quiz: answer must be an option index" in proc.stdout


def test_import_export_roundtrip_and_new_items_join(cfg, tmp_path):
    out = tmp_path / "out.yml"
    run(cfg, "study", "export", str(out))  # a fresh database is seeded from the library file
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))["items"]
    assert len(exported) == len(yaml.safe_load(LIBRARY.read_text(encoding="utf-8"))["items"])
    extra = tmp_path / "extra.yml"
    extra.write_text(yaml.safe_dump({"items": [{"id": "only-new", "title": "新条目", "body": "正文", "source": "测试",
                                                "date": "2031-05-05"}]}, allow_unicode=True), encoding="utf-8")
    assert "added 1, updated 0, removed 0" in run(cfg, "study", "import", str(extra)).stdout
    got = json.loads(run(cfg, "study", "today", "--group", "-5", "--date", "2031-05-05", "--json").stdout)
    assert got["id"] == "only-new"
    assert "removed" in run(cfg, "study", "import", str(extra), "--replace").stdout
    run(cfg, "study", "export", str(out))
    assert [i["id"] for i in yaml.safe_load(out.read_text(encoding="utf-8"))["items"]] == ["only-new"]
