"""The CLI as the plugin uses it: a child process printing JSON lines."""

import json
import os
import signal
import subprocess
import sys
import time

from tests.paths import ERA5_DAILY, REPO


def run_cli(*args, request=None, tmp_path=None):
    argv = [sys.executable, "-m", "backend", *args]
    if request is not None:
        path = tmp_path / "request.json"
        path.write_text(json.dumps(request))
        argv.append(str(path))
    completed = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120)
    return completed.returncode, [json.loads(line) for line in completed.stdout.splitlines()]


def test_success_prints_progress_then_one_result(tmp_path):
    code, messages = run_cli(
        "buildrasterstack", request={"output": str(tmp_path / "s.tif"), "folder": str(ERA5_DAILY)}, tmp_path=tmp_path
    )
    assert code == 0
    kinds = [m["type"] for m in messages]
    assert kinds[-1] == "result" and kinds.count("result") == 1 and "progress" in kinds and "log" in kinds
    assert messages[-1]["outputs"]["OUTPUT"] == str(tmp_path / "s.tif")
    assert all(0 <= m["percent"] <= 100 for m in messages if m["type"] == "progress")


def test_bad_input_is_one_error_line_and_exit_1(tmp_path):
    code, messages = run_cli(
        "buildrasterstack",
        request={"output": str(tmp_path / "s.tif"), "folder": str(tmp_path / "none")},
        tmp_path=tmp_path,
    )
    assert code == 1
    assert messages[-1] == {
        "type": "error",
        "kind": "input",
        "message": f"The folder {tmp_path / 'none'} does not exist.",
    }


def test_invalid_json_and_unknown_command(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    code, messages = run_cli("describespacetime", str(tmp_path / "bad.json"))
    assert code == 1 and messages[-1]["type"] == "error"
    code, _ = run_cli("nosuchcommand", str(tmp_path / "bad.json"))
    assert code == 2


def test_info_reports_version():
    code, messages = run_cli("info")
    assert code == 0 and messages[0]["summary"]["version"]


def test_sigterm_cancels_quickly_and_leaves_no_partial_file(slow_build_request):
    _request, path, out_dir = slow_build_request
    child = subprocess.Popen(
        [sys.executable, "-m", "backend", "buildrasterstack", str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    deadline = time.monotonic() + 60
    while not list(out_dir.glob(".big.tif.*.partial*")):  # wait until the temporary file is being written
        assert time.monotonic() < deadline and child.poll() is None, "the build ended before it could be cancelled"
        time.sleep(0.05)
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    code = child.wait(timeout=10)
    assert time.monotonic() - started < 2.0
    messages = [json.loads(line) for line in child.stdout.read().splitlines()]
    assert code == 130 and messages[-1]["kind"] == "cancelled"
    assert os.listdir(out_dir) == []
