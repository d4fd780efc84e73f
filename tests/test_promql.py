import pytest

from plano_obs.checks import promql


def test_substitutes_macros_and_all_variable_syntaxes():
    out = promql.substitute('rate(x{a=~"$model",b="${svc}",c="[[env]]"}[$__rate_interval]) / $__range_s',
                            {"model": ".*", "svc": "s", "env": "e"}, {"__rate_interval": "30s"})
    assert out == 'rate(x{a=~".*",b="s",c="e"}[30s]) / 3600'


def test_unknown_variable_is_an_error():
    with pytest.raises(promql.PromQLError, match=r"unknown variable \$tenant"):
        promql.substitute('x{t="$tenant"}')


def test_analyse_marks_counters_inside_rate():
    tree = promql.analyse("sum(rate(a_total[1m])) / sum(b_total) + histogram_quantile(0.9, sum by (le) (increase(c_bucket[5m])))")
    assert [(s.name, s.in_rate) for s in tree.selectors] == [("a_total", True), ("b_total", False), ("c_bucket", True)]
    assert tree.functions == ["rate", "histogram_quantile", "increase"]


def test_parse_error_keeps_the_expression():
    with pytest.raises(promql.PromQLError) as err:
        promql.parse("sum(rate(x[1m])")
    assert err.value.expr == "sum(rate(x[1m])"


def test_grafana_interval_macros():
    from plano_obs.checks import grafana
    # 15 min over 1000 points is 0.9 s, below the 5 s scrape interval: the scrape interval wins
    assert grafana.interval_s(900, 5) == 5
    assert grafana.rate_interval_s(900, 5) == 20  # max(5 + 5, 4 × 5)
    # a week: 604.8 s per point; rate interval = interval + scrape
    assert grafana.rate_interval_s(7 * 86400, 5) == 609.8
    m = grafana.macros(3600, 5)
    assert (m["__rate_interval"], m["__interval"], m["__range"]) == ("20000ms", "5000ms", "3600s")
