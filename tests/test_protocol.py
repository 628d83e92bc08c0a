"""The one verdict rule: a paired t interval, checked against hand computations and its edge cases."""
import math

import pytest

from fsc_teach.protocol import compare


def test_interval_is_the_paired_t_interval():
    a = [90.1, 91.0, 89.5, 90.8, 90.2]
    b = [89.0, 90.2, 89.6, 89.9, 89.1]
    d = [x - y for x, y in zip(a, b)]  # 1.1, 0.8, -0.1, 0.9, 1.1
    mean = sum(d) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / 4)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t_{0.975, 4}
    c = compare(a, b, names=("Ours", "NC"))
    assert c.mean == pytest.approx(mean) and c.low == pytest.approx(mean - half) and c.high == pytest.approx(mean + half)
    assert c.sign == 1 and c.verdict.startswith("Ours beats NC")
    assert compare(b, a).sign == -1  # antisymmetric


def test_pairing_sees_what_unpaired_spreads_hide():
    """Draw-to-draw spread is large, the paired difference constant: paired says A wins, the spreads overlap."""
    a = [70.0, 80.0, 90.0, 75.0, 85.0]
    b = [x - 1.0 for x in a]
    c = compare(a, b)
    assert c.sign == 1 and c.low == pytest.approx(1.0) and c.high == pytest.approx(1.0)


def test_no_verdict_inside_the_noise_and_with_one_draw():
    c = compare([90.0, 91.0, 89.0, 90.5, 89.5], [90.2, 90.4, 89.9, 89.6, 90.0])
    assert c.sign == 0 and c.verdict.startswith("no clear difference")
    one = compare([95.0], [10.0])
    assert one.sign == 0 and math.isinf(one.low) and math.isinf(one.high)


@pytest.mark.parametrize("a, b, err, match", [
    ([1.0, 2.0], [1.0], ValueError, "one score per draw"),
    ([], [], ValueError, "one score per draw"),
    ("12", "12", TypeError, "sequences"),
    ([1.0, float("nan")], [1.0, 2.0], ValueError, "every score in a"),
])
def test_bad_inputs_are_named(a, b, err, match):
    with pytest.raises(err, match=match):
        compare(a, b)
    with pytest.raises(ValueError, match="confidence"):
        compare([1.0, 2.0], [1.0, 2.0], confidence=1.0)
