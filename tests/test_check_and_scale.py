import pytest

from fsc_teach import check
from fsc_teach.check import CheckFailed
from fsc_teach.scale import get_scale, pick


def _fails(fn, *args, **kwargs) -> str:
    """The message of the CheckFailed that ``fn`` raises (the test fails if it passes or raises anything else)."""
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_close_passes_and_fails_with_hint(capsys):
    assert check.close([1.0, 2.0], [1.0, 2.0 + 1e-9]) is True
    assert "✓" in capsys.readouterr().out
    msg = _fails(check.close, [1.0, 2.5], [1.0, 2.0], hint="divide by the batch size")
    assert msg.startswith("✗") and "largest difference 0.5" in msg and "hint: divide by the batch size" in msg
    assert "shape" in _fails(check.close, [1.0], [1.0, 2.0])
    assert "no answer yet" in _fails(check.close, None, 1.0)
    assert "NaN" in _fails(check.close, [float("nan")], [1.0])
    assert capsys.readouterr().out == ""  # a failure prints nothing: its message is the error's


def test_a_failed_check_renders_as_its_hint_without_a_traceback():
    err = CheckFailed("✗ my_f works: not implemented yet\n  hint: add one")
    assert isinstance(err, AssertionError)  # nbgrader (and plain Python) treat it as a failed assertion
    lines = err._render_traceback_()  # what IPython shows instead of the traceback
    assert len(lines) == 2 and "not implemented yet" in lines[0] and "hint: add one" in lines[1]
    assert not any("Traceback" in line or "File " in line for line in lines)


def test_runs_turns_exceptions_into_one_failed_check(capsys):
    def broken():
        raise IndexError("list index out of range")

    msg = _fails(check.runs, broken)
    assert "IndexError: list index out of range" in msg and "Traceback" not in msg
    assert check.runs(lambda a: a + 1, 1) == 2
    assert capsys.readouterr().out == ""  # a passing run prints nothing: the check that follows reports


def test_equal_and_that(capsys):
    assert check.equal(3, 3) and check.equal([3, 4], (3, 4))
    assert "got 'a'" in _fails(check.equal, "a", "b")
    assert check.that(True, "ok")
    assert "no: not yet" in _fails(check.that, False, "no")


def test_scale_switch(monkeypatch):
    monkeypatch.delenv("FSC_SCALE", raising=False)
    assert get_scale() == "standard"
    monkeypatch.setenv("FSC_SCALE", "quick")
    assert get_scale() == "quick" and pick("quick", 1, 2, 3) == 1
    assert pick("paper", 1, 2) == 2 and pick("paper", 1, 2, 3) == 3
    monkeypatch.setenv("FSC_SCALE", "huge")
    with pytest.raises(ValueError, match="quick, standard, paper"):
        get_scale()


def test_unanswered_exercises_get_a_hint_not_a_traceback():
    msg = _fails(check.equal, ..., (3, 4), hint="zero the diagonal first")
    assert "no answer yet" in msg and "hint: zero the diagonal first" in msg
    assert "no answer yet" in _fails(check.equal, None, 2)

    class Weird:
        def __eq__(self, other):
            raise RuntimeError("ambiguous")

    assert "could not compare" in _fails(check.equal, Weird(), 1)

    def todo(x):
        raise NotImplementedError

    assert "my_fn works: not implemented yet" in _fails(check.runs, todo, 1, what="my_fn works")
