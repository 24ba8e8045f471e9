"""A training job's schedule is checked when it is made, naming the entry (no traceback later).

A main of its own that passes its config through (``train_and_evaluate(..., steps=steps)``,
``python my.py with steps=abc``) failed in tqdm with ``TypeError: can only concatenate str
(not "float") to str`` after the run had started; now one ``ConfigError`` line names it.
"""

import pytest

from reproml.errors import ConfigError
from reproml.train.job import TrainingJob

GOOD = {"steps": 6, "eval_every": 3, "log_every": 1}


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"steps": "abc"}, "config entry 'steps': expected an int >= 1, got 'abc'"),
        ({"steps": 0}, "config entry 'steps': expected an int >= 1, got 0"),
        ({"eval_every": 2.5}, "config entry 'eval_every': expected an int >= 1, got 2.5"),
        ({"log_every": True}, "config entry 'log_every': expected an int >= 1, got True"),
        ({"eval_steps": -1}, "config entry 'eval_steps': expected an int >= 1, got -1"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_entry(updates, message):
    with pytest.raises(ConfigError) as refused:
        TrainingJob(None, print, print, **{**GOOD, **updates})
    assert str(refused.value) == message


def test_a_good_schedule_is_kept():
    job = TrainingJob(None, print, print, **GOOD, eval_steps=None)
    assert (job.steps, job.eval_every, job.log_every, job.eval_steps) == (6, 3, 1, None)
    assert TrainingJob(None, print, print, **GOOD, eval_steps=2).eval_steps == 2
