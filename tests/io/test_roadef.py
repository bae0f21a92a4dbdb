"""ROADEF 2005 instance directories: the vendored set A read, its file orders scored as
Renault's checker scored them, and every bad file named with its line and what was
expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from promiseline.core.sequencing.roadef import file_order, score
from promiseline.io.csplib import SequenceFileError
from promiseline.io.roadef import read_roadef
from tests.core.sequencing.roadef_check import check

ROOT = Path(__file__).resolve().parents[2]
SET_A = ROOT / "benchmarks" / "data" / "roadef2005" / "set_A"
# The weighted objective of the cars in file order, by "the validator given by Renault"
# (Guizrio/carsequencing, test/carsequencing/SolutionValidatorTest.java).
RENAULT = {
    "064_38_2_EP_RAF_ENP_ch2": 28_046_050,
    "022_3_4_EP_RAF_ENP": 2_070_002,
    "022_3_4_RAF_EP_ENP": 11_048_005,
    "024_38_5_EP_ENP_RAF": 106_134_392,
    "039_38_4_EP_RAF_ch1": 115_229_000,
    "039_38_4_RAF_EP_ch1": 69_392_000,
}
TINY = {
    "ratios.txt": "Ratio;Prio;Ident;\n1/2;1;HPRC1;\n2/3;0;LPRC1;\n",
    "optimization_objectives.txt": (
        "rank;objective name;\n1;paint_color_batches;\n"
        "2;high_priority_level_and_easy_to_satisfy_ratio_constraints;\n"
        "3;low_priority_level_ratio_constraints;\n"
    ),
    "paint_batch_limit.txt": "limitation;\n2;\n",
    "vehicles.txt": (
        "Date;SeqRank;Ident;Paint Color;HPRC1;LPRC1\n"
        "2003 1 1;1;P1;RED;1;0\n"
        "2003 1 2;1;A;RED;1;1\n"
        "2003 1 2;2;B;BLUE;0;1\n"
        "2003 1 2;3;C;RED;1;0\n"
    ),
}


def tiny(tmp_path: Path, **change: str) -> Path:
    d = tmp_path / "tiny"
    d.mkdir(exist_ok=True)
    for name, text in {**TINY, **change}.items():
        (d / name.replace("_txt", ".txt")).write_text(text, encoding="utf-8")
    return d


def test_file_orders_score_as_renaults_checker() -> None:
    """The count (windows over the previous day's cars, the last ones cut at the day's
    end) gives the six file-order scores Renault's checker gave, and so does the tests'
    own checker."""
    days = {d.name: d for d in read_roadef(SET_A)}
    assert len(days) == 16
    for name, want in RENAULT.items():
        d = days[name]
        assert score(d, file_order(d)).objective == want, name
        assert check(SET_A / name, list(d.ids))["objective"] == want, name


def test_a_tiny_instance_read(tmp_path: Path) -> None:
    """The first date's cars are the previous day's; colours are coded in order seen; the
    constraint columns follow ratios.txt; a byte-order mark and blank lines are fine."""
    (d,) = read_roadef(tiny(tmp_path, paint_batch_limit_txt="\ufefflimitation;\n\n2;\n"))
    assert d.ids == ("A", "B", "C")
    assert d.prev_colors.tolist() == [0]
    assert d.colors.tolist() == [0, 1, 0]
    assert d.options.tolist() == [[True, True], [False, True], [True, False]]
    assert d.objectives == ("COLOR", "HPRC", "LPRC")
    assert d.weight("COLOR") == 1_000_000
    assert d.weight("LPRC") == 1
    assert d.batch_limit == 2
    s = score(d, file_order(d))  # RED | RED BLUE RED: [P1 A] holds 2 of 1/2, [C] cut short
    assert (s.hprc, s.color, s.lprc, s.batch_violations) == (1, 2, 0, 0)


@pytest.mark.parametrize(
    ("file", "text", "said"),
    [
        (
            "ratios_txt",
            "Ratio;Prio;Ident;\n1-2;1;HPRC1;\n",
            "ratios.txt, line 2: expected 'N/P;PRIO;NAME'",
        ),
        (
            "ratios_txt",
            "Ratio;Prio;Ident;\n1/2;2;HPRC1;\n",
            "ratios.txt, line 2: expected 'N/P;PRIO;NAME' (PRIO 0 or 1)",
        ),
        (
            "ratios_txt",
            "Ratio;Ident;\n",
            "ratios.txt, line 1: expected the header 'Ratio;Prio;Ident;'",
        ),
        (
            "optimization_objectives_txt",
            "rank;objective name;\n1;paint;\n",
            "optimization_objectives.txt, line 2: expected '1;OBJECTIVE' with OBJECTIVE one of",
        ),
        (
            "paint_batch_limit_txt",
            "limitation;\nten;\n",
            "paint_batch_limit.txt, line 2: expected one line with the limit",
        ),
        (
            "paint_batch_limit_txt",
            "limitation;\n0;\n",
            "paint_batch_limit.txt, line 2: a batch limit of 0 cars",
        ),
        (
            "vehicles_txt",
            "Date;SeqRank;Ident;Paint Color;HPRC1;LPRC9\n2003 1 1;1;P1;RED;1;0\n",
            "vehicles.txt, line 1: the constraint columns must be those of ratios.txt",
        ),
        (
            "vehicles_txt",
            "Date;SeqRank;Ident;Paint Color;HPRC1;LPRC1\n"
            "2003 1 1;1;P1;RED;1;0\n2003 1 2;1;A;RED;1;x\n",
            "vehicles.txt, line 3: expected 'DATE;RANK;IDENT;COLOR' and 2 flags of 0 or 1",
        ),
        (
            "vehicles_txt",
            "Date;SeqRank;Ident;Paint Color;HPRC1;LPRC1\n"
            "2003 1 1;1;P1;RED;1;0\n2003 1 2;1;P1;RED;1;0\n",
            "vehicles.txt, line 3: car ident 'P1' empty or twice",
        ),
        (
            "vehicles_txt",
            "Date;SeqRank;Ident;Paint Color;HPRC1;LPRC1\n1;1;P;R;1;0\n2;1;A;R;1;0\n3;1;B;R;0;0\n",
            "vehicles.txt: expected the previous day's cars, then the day's",
        ),
    ],
)
def test_bad_files_say_where_and_what(tmp_path: Path, file: str, text: str, said: str) -> None:
    """Each bad file is one error naming the file, the line and what was expected."""
    with pytest.raises(SequenceFileError, match="tiny") as e:
        read_roadef(tiny(tmp_path, **{file: text}))
    assert said in str(e.value)


def test_missing_files_and_folders(tmp_path: Path) -> None:
    d = tiny(tmp_path)
    (d / "ratios.txt").unlink()
    with pytest.raises(SequenceFileError, match=r"ratios.txt: missing \(a ROADEF instance has"):
        read_roadef(d)
    with pytest.raises(SequenceFileError, match="not a directory"):
        read_roadef(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SequenceFileError, match="no ROADEF instance"):
        read_roadef(tmp_path / "empty")
    with pytest.raises(SequenceFileError, match=r"there are some in .*set_A"):  # a level up
        read_roadef(SET_A.parent)
