import pytest

from fsc_teach import check
from fsc_teach.scale import get_scale, pick


def test_close_passes_and_fails_with_hint(capsys):
    assert check.close([1.0, 2.0], [1.0, 2.0 + 1e-9])
    assert "✓" in capsys.readouterr().out
    assert not check.close([1.0, 2.5], [1.0, 2.0], hint="divide by the batch size")
    out = capsys.readouterr().out
    assert "✗" in out and "largest difference 0.5" in out and "hint: divide by the batch size" in out
    assert not check.close([1.0], [1.0, 2.0])
    assert "shape" in capsys.readouterr().out
    assert not check.close(None, 1.0)
    assert "no answer yet" in capsys.readouterr().out


def test_runs_turns_exceptions_into_one_line(capsys):
    def broken():
        raise IndexError("list index out of range")

    assert check.runs(broken) is None
    out = capsys.readouterr().out
    assert "IndexError" in out and "Traceback" not in out
    assert check.runs(lambda a: a + 1, 1) == 2


def test_equal_and_that(capsys):
    assert check.equal(3, 3) and not check.equal("a", "b")
    assert check.that(True, "ok") and not check.that(False, "no")


def test_scale_switch(monkeypatch):
    monkeypatch.delenv("FSC_SCALE", raising=False)
    assert get_scale() == "standard"
    monkeypatch.setenv("FSC_SCALE", "quick")
    assert get_scale() == "quick" and pick("quick", 1, 2, 3) == 1
    assert pick("paper", 1, 2) == 2 and pick("paper", 1, 2, 3) == 3
    monkeypatch.setenv("FSC_SCALE", "huge")
    with pytest.raises(ValueError, match="quick, standard, paper"):
        get_scale()


def test_unanswered_exercises_get_a_hint_not_a_traceback(capsys):
    assert not check.equal(..., (3, 4), hint="zero the diagonal first")
    out = capsys.readouterr().out
    assert "no answer yet" in out and "hint: zero the diagonal first" in out
    assert not check.equal(None, 2)
    assert "no answer yet" in capsys.readouterr().out

    class Weird:
        def __eq__(self, other):
            raise RuntimeError("ambiguous")

    assert not check.equal(Weird(), 1)
    assert "could not compare" in capsys.readouterr().out

    def todo(x):
        raise NotImplementedError

    assert check.runs(todo, 1, what="my_fn works") is None
    assert "not implemented yet" in capsys.readouterr().out
