import pytest

from weightspace import WeightspaceError
from weightspace.zoo.early_stopping import EarlyStopping, kept_exports


def run(rule: EarlyStopping, accs: list[float]) -> tuple[int, str | None]:
    state = rule.start()
    for epoch, acc in enumerate(accs, start=1):
        reason = state.update(acc)
        if reason:
            return epoch, reason
    return len(accs), None


def test_five_falling_accuracies_stop_after_min_epochs():
    rule = EarlyStopping(min_epochs=20)
    rising = [0.1 + 0.01 * i for i in range(20)]
    falling = [rising[-1] - 0.01 * (i + 1) for i in range(10)]
    assert run(rule, rising + falling) == (25, "falling")


def test_falling_run_before_min_epochs_waits():
    rule = EarlyStopping(min_epochs=20)
    accs = [0.9 - 0.01 * i for i in range(30)]
    assert run(rule, accs) == (20, "falling")


def test_thirty_stationary_epochs():
    rule = EarlyStopping(min_epochs=20)
    assert run(rule, [0.1] * 40) == (31, "stationary")


def test_below_smoothed_counts_in_total():
    rule = EarlyStopping(min_epochs=20, falling=100, stationary=100, below_smoothed=30)
    # alternate high/low: every low epoch is below the smoothed value
    accs = [0.8 if i % 2 == 0 else 0.5 for i in range(80)]
    epoch, reason = run(rule, accs)
    assert reason == "below_smoothed"
    assert epoch == 60  # the 30th low epoch


def test_max_epochs_caps():
    rule = EarlyStopping(min_epochs=2, max_epochs=7)
    assert run(rule, [0.1 * i for i in range(20)]) == (7, "max_epochs")


@pytest.mark.parametrize("field", ["min_epochs", "falling", "stationary"])
def test_invalid_rules(field):
    with pytest.raises(WeightspaceError, match=field):
        EarlyStopping(**{field: 0})
    with pytest.raises(WeightspaceError, match="below min_epochs"):
        EarlyStopping(min_epochs=10, max_epochs=5)


def test_kept_exports_include_init_and_final_and_are_uniform():
    kept = kept_exports(101, 20)
    assert len(kept) == 20
    assert kept[0] == 0
    assert kept[-1] == 100
    assert kept == sorted(set(kept))
    assert kept_exports(21, 20) == [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
    ]
    assert kept_exports(5, 20) == [0, 1, 2, 3, 4]
