"""Progress of a book run: chapter lines with verdict counts, the bar's status, and quiet runs."""

import json

from kdbook import progress


def test_chapter_lines_name_the_time_and_the_verdicts(tmp_path, capsys):
    results = tmp_path / "02_x.json"
    claims = [{"verdict": v} for v in ("reproduced", "inconclusive", "reproduced")]
    results.write_text(json.dumps({"claims": claims}))
    bar = progress.Progress(["01_x", "02_x"], tmp_path / "checkpoints", tty=True)
    bar.start("02_x")
    bar.finish("02_x", 12.3, results)
    bar.finish("01_x", 1.0, tmp_path / "none.json")
    bar.close()
    out = capsys.readouterr()
    assert "[kdbook] 02_x: started" in out.out
    assert (
        "[kdbook] 02_x: done in 12 s; claims: 2 reproduced, 1 inconclusive" in out.out
    )
    assert "[kdbook] 01_x: done in 1 s\n" in out.out and "all chapters done" in out.out
    assert "chapters: 2/2" in out.err


def test_the_bar_says_which_teachers_are_being_trained(tmp_path, monkeypatch, capsys):
    import fcntl

    for name in ("mnist-cnn-digits-0123", "killed-run-4567"):
        (tmp_path / f"{name}.training").touch()
        (tmp_path / f"{name}.lock").touch()
    # a trainer holds its lock; the killed run's marker stayed behind, its lock free
    lock = open(tmp_path / "mnist-cnn-digits-0123.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    assert progress.teachers_in_training(tmp_path) == ["mnist-cnn-digits-0123"]
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.01)
    bar = progress.Progress(["01_x"], tmp_path, tty=True)
    bar.start("01_x")
    bar.close()
    assert "training teacher mnist-cnn-digits-0123" in capsys.readouterr().err
    lock.close()
    assert progress.teachers_in_training(tmp_path) == []


def test_in_a_log_a_status_line_breaks_every_silence(tmp_path, monkeypatch, capsys):
    import time

    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.05)
    bar = progress.Progress(["01_x", "02_x"], tmp_path, tty=False)
    bar.start("01_x")
    time.sleep(0.3)
    bar.close()
    out, err = capsys.readouterr()
    assert "[kdbook] 0/2 chapters done, 0.0 min; running 01_x" in out and err == ""


def test_quiet_prints_nothing(tmp_path, capsys):
    bar = progress.Progress(["01_x"], tmp_path, quiet=True)
    bar.start("01_x")
    bar.finish("01_x", 1.0, tmp_path / "none.json")
    bar.close()
    assert capsys.readouterr() == ("", "")
