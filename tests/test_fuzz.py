"""The fuzz corpus (tests/fuzz_corpus.py) through the real command line: every bad input gives exit 2
and one error line naming the file (or is scored, all its frames), and nothing crashes, hangs or
loses rows already scored.

All cases run in ONE child process (imports paid once) under a 3 GB address-space limit
(``resource.setrlimit``), so a decompression bomb that slipped past the pixel limit would fail the
test with a MemoryError instead of taking the machine's memory. The child writes one JSON line per
finished case: a child that dies (SIGSEGV) or is killed for running too long points at the case
after the last line.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine_helpers import package_varied
from fuzz_corpus import build

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 3 << 30
CASE_LIMIT_S = 30  # a case slower than this is counted as a hang

DRIVER = r"""
import contextlib, io, json, os, resource, signal, sys, time, traceback
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]), int(sys.argv[3])))
sys.path.insert(0, os.path.join(sys.argv[4], "tests"))
from app.cli import main

def on_alarm(signum, frame):
    raise TimeoutError("case ran too long")

signal.signal(signal.SIGALRM, on_alarm)
cases = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as res:
    for i, argv in enumerate(cases):
        err, out = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        tb = None
        signal.alarm(int(sys.argv[5]))
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 2
        except BaseException:
            rc, tb = None, traceback.format_exc()
        finally:
            signal.alarm(0)
        res.write(json.dumps({"i": i, "rc": rc, "stderr": err.getvalue(), "stdout": out.getvalue()[-2000:],
                              "traceback": tb, "s": round(time.perf_counter() - t0, 3)}) + "\n")
        res.flush()
"""


def _score_rows(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return list(csv.DictReader(f))


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(("error:", "fuiqa ")) and "error:" in ln]


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    model = package_varied(root / "model.fuiqa", trained=True).path
    cases = build(root / "corpus", model)
    (root / "cases.json").write_text(json.dumps([[os.fsdecode(a) for a in c.argv] for c in cases]))
    try:
        p = subprocess.run([sys.executable, "-c", DRIVER, str(root / "cases.json"), str(root / "results.jsonl"),
                            str(MEMORY_LIMIT), str(ROOT), str(CASE_LIMIT_S)], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, FUIQA_DEBUG=""))
        died = p.returncode
    except subprocess.TimeoutExpired:
        died = "timeout"
    lines = (root / "results.jsonl").read_text().splitlines() if (root / "results.jsonl").exists() else []
    results = [json.loads(ln) for ln in lines]
    return cases, results, died


def judge(case, r) -> str | None:
    """What is wrong with one case's outcome (None: fine)."""
    if r["traceback"]:
        return "crash: " + r["traceback"].strip().splitlines()[-1]
    if "Traceback" in r["stderr"]:
        return "traceback on stderr"
    if r["rc"] not in case.ok_exit:
        return f"exit {r['rc']} (allowed {case.ok_exit}); stderr: {r['stderr'][-300:]!r}"
    rows = _score_rows(case.out)
    scored = [x for x in rows or [] if x.get("score")]
    if r["rc"] == 2:
        errs = _error_lines(r["stderr"])
        if len(errs) != 1:
            return f"{len(errs)} error lines, want 1: {r['stderr'][-400:]!r}"
        if case.names not in errs[0]:
            return f"error line does not name {case.names!r}: {errs[0]!r}"
        if rows is not None and scored and not rows[-1]["status"].startswith("INCOMPLETE"):
            return "exit 2 with a CSV not marked INCOMPLETE"
    if r["rc"] == 0 and case.argv[0] == "score":
        if rows is None:
            return "exit 0 but no CSV"
        want = case.frames
        if (want is not None and len(scored) != want) or not scored:
            return f"exit 0 with {len(scored)} scored rows, want {want or '> 0'}"
    return None


def test_fuzz_corpus_gives_clear_errors_and_loses_nothing(fuzz_run):
    cases, results, died = fuzz_run
    problems = []
    if len(results) < len(cases):
        bad = cases[len(results)]
        problems.append(f"child {'ran out of time' if died == 'timeout' else f'died ({died})'} in case "
                        f"{len(results)}: {bad.name} ({bad.argv[:2]})")
    by_kind: dict[str, int] = {}
    for case, r in zip(cases, results):
        by_kind[case.kind] = by_kind.get(case.kind, 0) + 1
        why = judge(case, r)
        if why:
            problems.append(f"{case.kind}: {case.name}: {why}")
    crashes = sum(1 for r in results if r["traceback"]) + (len(results) < len(cases))
    print(f"\nfuzz corpus: {len(cases)} inputs ({by_kind}), crashes {crashes}, problems {len(problems)}, "
          f"slowest case {max((r['s'] for r in results), default=0):.1f} s, "
          f"total {sum(r['s'] for r in results):.1f} s")
    assert not problems, "\n".join(problems)
    assert len(cases) >= 100


def test_bad_frame_in_a_folder_keeps_the_rows_before_it(fuzz_run):
    cases, results, _ = fuzz_run
    (i, case), = [(i, c) for i, c in enumerate(cases) if c.name == "folder with a truncated image in the middle"]
    assert results[i]["rc"] == 2
    rows = _score_rows(case.out)
    assert [int(r["frame"]) for r in rows if r["score"]] == [0, 1] and rows[-1]["status"].startswith("INCOMPLETE")
