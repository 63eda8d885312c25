"""SPEC §1: every example, every Fix, every listed error with its caret."""

from __future__ import annotations

import pytest

from hydraflow import SweepError, collect, count, expand


def values(expr: str) -> list[str]:
    """The values of a one-token expression, without the key."""
    return [combo[0].split("=", 1)[1] for combo in expand(expr)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("x=small", ["small"]),
        ("x=1k", ["1k"]),
        ("x=a,b,c", ["a", "b", "c"]),
        ("x=1:3", ["1", "2", "3"]),
        ("x=:3", ["0", "1", "2", "3"]),
        ("x=16:128:16", ["16", "32", "48", "64", "80", "96", "112", "128"]),
        ("x=1:6:2", ["1", "3", "5"]),
        ("x=5:1:-2", ["5", "3", "1"]),
        ("x=1:5:m", ["1e-3", "2e-3", "3e-3", "4e-3", "5e-3"]),
        ("x=1:3:k", ["1e3", "2e3", "3e3"]),
        ("x=4:M", ["4e6"]),
        ("x=1:2:e-3", ["1e-3", "2e-3"]),
        ("x=0:2:k", ["0", "1e3", "2e3"]),
        ("x=0.1:0.4:0.1:m", ["0.1e-3", "0.2e-3", "0.3e-3", "0.4e-3"]),
        ("x=0:1:0.25", ["0", "0.25", "0.5", "0.75", "1"]),
        ("x=1.0:2.0", ["1", "2"]),
        ("x=1.2e-3:1.4e-3:0.1e-3", ["0.0012", "0.0013", "0.0014"]),
        ("x=1e3:3e3:1e3", ["1000", "2000", "3000"]),
        ("x=0:0.3:0.1", ["0", "0.1", "0.2", "0.3"]),
        ("x=12:14", ["12", "13", "14"]),
        ("x=(1,4)k", ["1e3", "4e3"]),
        ("x=2e(-1,-2)", ["2e-1", "2e-2"]),
        ("x=(1:3,5:9:2,20)k", ["1e3", "2e3", "3e3", "5e3", "7e3", "9e3", "20e3"]),
        (
            "x=(cnn,transformer)_(small,large)",
            ["cnn_small", "cnn_large", "transformer_small", "transformer_large"],
        ),
        ("x=(1:3)e(3,5)", ["1e3", "1e5", "2e3", "2e5", "3e3", "3e5"]),
        ("x=((a,b),c)d", ["ad", "bd", "cd"]),
        ("x=foo(a,b)", ["fooa", "foob"]),
        ("x=log(1e-4:1e-1:4)", ["0.0001", "0.001", "0.01", "0.1"]),
        ("x=log(1:100:3)", ["1", "10", "100"]),
        ("x=range(1,4)", ["range(1,4)"]),
        ("x=choice(a,b),c", ["choice(a,b)", "c"]),
        ("x=interval(0,1)", ["interval(0,1)"]),
        ("x=tag(a,b,range(1,3))", ["tag(a,b,range(1,3))"]),
        ("x=json_str({a:1})", ["json_str({a:1})"]),
        ("x=[1,2],[3,4]", ["[1,2]", "[3,4]"]),
        ("x={a:1,b:2}", ["{a:1,b:2}"]),
        ("url=http://x.org:80", ["http://x.org:80"]),
        ("t=a:b", ["a:b"]),
        ("x=a=b", ["a=b"]),
        ("lr/m=1,2,5", ["1e-3", "2e-3", "5e-3"]),
        ("lr/u=1:3", ["1e-6", "2e-6", "3e-6"]),
        ("lr/m=0,1", ["0", "1e-3"]),
        ("lr/e-2=1,2", ["1e-2", "2e-2"]),
        ("lr/k=(1,2)", ["1e3", "2e3"]),
    ],
)
def test_values(expr: str, expected: list[str]) -> None:
    assert values(expr) == expected
    assert count(expr) == len(expected)


def test_decimal_ranges_are_exact() -> None:
    tenths = values("x=0:1:0.1")
    assert len(tenths) == 11 and tenths[-1] == "1" and tenths[3] == "0.3"
    signed = values("x=-1:1:0.1")
    assert len(signed) == 21 and "0" in signed and not any("e-1" in v for v in signed)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("db/engine=a,b", [["db/engine=a"], ["db/engine=b"]]),
        ("hydra/launcher=joblib", [["hydra/launcher=joblib"]]),
        ("+extra=1,2", [["+extra=1"], ["+extra=2"]]),
        ("++force=1", [["++force=1"]]),
        ("model@pkg=a", [["model@pkg=a"]]),
        ("~drop", [["~drop"]]),
        ("model.depth=1:2", [["model.depth=1"], ["model.depth=2"]]),
    ],
)
def test_keys(expr: str, expected: list[list[str]]) -> None:
    assert list(expand(expr)) == expected


def test_quoting_follows_the_shell() -> None:
    assert list(expand("""msg='"a,b"',c""")) == [['msg="a,b"'], ["msg=c"]]
    assert values("msg='a,b',c") == ["a", "b", "c"]
    assert values("msg='hello world'") == ["hello world"]
    assert list(expand("""x='"a|b"'""")) == [['x="a|b"']]


def test_folded_newlines_are_whitespace() -> None:
    assert count("a=1,2\n  b=3,4\n") == 4


def test_product_order_leftmost_slowest() -> None:
    assert list(expand("a=1,2 b=x,y")) == [
        ["a=1", "b=x"],
        ["a=1", "b=y"],
        ["a=2", "b=x"],
        ["a=2", "b=y"],
    ]


def test_pipes() -> None:
    assert list(expand("model=small,large|lr=0.1,0.2|dropout=1:5:2")) == [
        ["model=small,large"],
        ["lr=0.1,0.2"],
        ["dropout=1,3,5"],
    ]
    assert list(expand("model=small,medium|large")) == [["model=small,medium"], ["model=large"]]
    assert count("model=small,large|lr=0.1,0.2 decay=1,2") == 4
    assert list(expand("lr/m=1,2|5")) == [["lr=1e-3,2e-3"], ["lr=5e-3"]]


def test_collect() -> None:
    assert collect("seed=1:3 model=a,b ~drop") == ["seed=1,2,3", "model=a,b", "~drop"]
    assert collect("") == []


def test_empty_each_is_one_combination() -> None:
    assert list(expand("")) == [[]]
    assert count("  ") == 1


def test_zip() -> None:
    from hydraflow.sweep import Sweep

    sweep = Sweep.parse("seed=1,2", "model=s,m,l lr=0.1,0.05,0.01")
    assert sweep.size() == 6
    assert list(sweep)[:3] == [
        ["seed=1", "model=s", "lr=0.1"],
        ["seed=1", "model=m", "lr=0.05"],
        ["seed=1", "model=l", "lr=0.01"],
    ]


@pytest.mark.parametrize(
    ("expr", "message", "caret_at"),
    [
        ("lr=1:2:0", "step cannot be zero", 7),
        ("x=", "empty value", 2),
        ("x=1,,2", "empty item", 4),
        ("x=1,", "empty item", 4),
        ("x=5:3", "wrong way", 2),
        ("x=3:5:-1", "wrong way", 2),
        ("x=1:2:3:4", "at most three", 8),
        ("a/k=1:3:m", "exponent given twice", 8),
        ("a/k=1e3", "exponent given twice", 5),
        ("x=(a,b", "unclosed '('", 2),
        ("x=a)", "unbalanced ')'", 3),
        ("x=[a,b", "unclosed '['", 2),
        ("""x='"a'""", "unclosed quote", 3),
        ("x='a", "unclosed quote", 2),
        ("foo", "expected KEY=VALUES", 0),
        ("a=1 foo", "expected KEY=VALUES", 4),
        ("x=log(1:10)", "START:STOP:COUNT", 6),
        ("x=1:3:K", "unknown suffix 'K'", 6),
        ("x=1:3tep", "invalid number '3tep'", 4),
        ("=3", "missing key", 0),
        ("x=1:", "missing number", 4),
        ("|a=1", "expected KEY=VALUES", 0),
    ],
)
def test_errors_point_at_the_fault(expr: str, message: str, caret_at: int) -> None:
    with pytest.raises(SweepError) as caught:
        list(expand(expr))
    error = caught.value
    assert message in str(error)
    assert error.pos == caret_at
    assert error.caret().splitlines() == [f"  {expr}", "  " + " " * caret_at + "^"]


def test_pipe_in_all_is_an_error() -> None:
    with pytest.raises(SweepError, match="pipe") as caught:
        collect("a=1 b=2|3")
    assert caught.value.pos == 7


def test_zip_lengths_must_agree() -> None:
    from hydraflow.sweep import Sweep

    with pytest.raises(SweepError, match="one length") as caught:
        Sweep.parse("", "a=1,2 b=1,2,3")
    assert caught.value.pos == 6


def test_errors_are_raised_before_iteration() -> None:
    with pytest.raises(SweepError):
        expand("x=1:2:0")


def test_error_in_a_multi_line_expression_shows_its_line() -> None:
    with pytest.raises(SweepError) as caught:
        expand("a=1,2\n  b=1:0:1")
    assert caught.value.caret() == "    b=1:0:1\n      ^"


def test_counting_does_not_enumerate() -> None:
    assert count("a=1:1000000 b=1:1000000 c=1:1000000") == 10**18
    first = next(expand("a=1:1000000 b=1:1000000"))
    assert first == ["a=1", "b=1"]


def test_counts_beyond_sys_maxsize() -> None:
    assert count("a=1:1000 b=1:1000 c=1:1000 d=1:1000 e=1:1000 f=1:1000 g=1:1000") == 10**21
