"""The naive loop the benchmarks compare against."""


def test_naive_baseline_loop_trains_like_kdutils(digits):
    from kdbook import baseline

    rows = baseline.compare_loops(
        digits,
        teacher_hidden=(32,),
        student_hidden=(16,),
        epochs=2,
    )
    for row in ("teacher", "scratch", "kd"):
        naive, ours = rows[row]["naive"], rows[row]["kdutils"]
        assert naive["seconds_per_epoch"] > 0 and ours["seconds_per_epoch"] > 0
        # same models, optimizer and epochs: the two loops reach similar accuracy
        assert (
            abs(
                rows[row]["naive"]["test_accuracy"]
                - rows[row]["kdutils"]["test_accuracy"]
            )
            < 0.15
        )
    # the teacher's logits were computed once, and timed
    assert rows["kd"]["cache_seconds"] > 0
    assert all(ratio > 0 for ratio in rows["kd_over_scratch"].values())
    table = baseline.speed_table(rows)
    assert list(table.index) == [
        "teacher training",
        "student alone",
        "student distilled",
    ]
    assert table.loc["student distilled", "speed-up [x]"] == round(
        rows["kd"]["speedup"], 3
    )
    assert "goal <= 1.1" in baseline.ratio_line(rows)
