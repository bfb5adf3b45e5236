"""Each benchmark runs end to end at tiny sizes, so they cannot rot unnoticed.

These check the shape of the results, never the timings (the suite runs on busy machines).
"""

import json

import pytest

from bench import gallery, ledger, live, memory, pipeline, provenance, submit
from bench.common import CHILDREN, Site, percentile, result_rows, table


@pytest.fixture(scope="module")
def site():
    # One throwaway site (its own var dir and SQLite file) for the process-based benchmarks.
    with Site(debug=True) as site:
        yield site
    CHILDREN.stop_all()


@pytest.mark.slow  # a site of its own: gunicorn, a consumer and a fake endpoint
def test_pipeline_and_memory_run_and_report(site):
    result = pipeline.run(
        n=2,
        workers=2,
        latency=0.05,
        web_workers=1,
        site=site,
        extra=memory.make_extra(zip_images=3, zip_kb=4, big=(512, 512, 1)),
    )
    portal = result["portal"]
    assert portal["succeeded"] == 2 and portal["failed"] == 0
    assert result["direct"]["images_per_s"] > 0
    assert portal["backend_ms_mean"] is not None  # the succeeded log line carried its phases
    assert portal["processing_ms_mean"] is not None
    assert portal["storage_ms_mean"] is not None
    assert set(result["added_ms_per_job"]) >= {"added", "processing", "storage", "backend"}
    assert result["checks"][0]["name"] == "portal/direct"

    mem = memory.summarize(result)
    assert mem["pipeline"]["worker_peak_mb"] > 0
    assert mem["pipeline"]["web_peak_mb"] > 0
    assert mem["zip"]["images"] == 3
    assert mem["zip"]["complete"] is True
    assert mem["big_job"]["status"] == "succeeded"
    assert mem["big_job"]["images"] == 1
    assert len(mem["checks"]) == 2
    assert "memory" in table(result_rows("memory", mem))
    json.dumps(result)  # what results.json will hold


@pytest.mark.slow  # a site of its own: gunicorn
def test_live_polls_every_open_page(site):
    result = live.run(pages=3, jobs=1, seconds=1.0, interval=0.3, web_workers=1, site=site)
    loaded = result["loaded"]
    assert loaded["polls"] > 0 and loaded["errors"] == 0, loaded["error_kinds"]
    assert loaded["sse_threads_needed"] == 3
    assert {check["name"] for check in result["checks"]} >= {"poll errors"}
    assert "live" in table(result_rows("live", result))


@pytest.mark.slow  # a site of its own: gunicorn
def test_submit_measures_latency_and_errors(site):
    result = submit.run(clients=(2,), seconds=0.5, interval=0.1, web_workers=1, site=site)
    shapes = {level["shape"] for level in result["levels"]}
    assert shapes == {"closed loop", "paced 1 per 0.1 s"}
    for level in result["levels"]:
        assert level["requests"] > 0
        assert level["errors"] == 0, level["error_kinds"]
        assert level["p95_ms"] >= level["p50_ms"]


def test_submit_with_budgets_on_every_scope(site):
    result = submit.run(
        clients=(2,), seconds=0.5, interval=None, web_workers=1, site=site, budgets=True
    )
    (level,) = result["levels"]
    assert level["requests"] > 0 and level["errors"] == 0, level["error_kinds"]
    assert result["params"]["budgets"] is True


def test_ledger_summary_compares_each_tree_with_the_one_before():
    def run(p50, cpu):
        return {
            "levels": [
                {
                    "shape": "closed loop",
                    "p50_ms": p50,
                    "p95_ms": 2 * p50,
                    "per_s": 10.0,
                    "web_cpu_ms_per_request": cpu,
                    "errors": 0,
                }
            ]
        }

    runs = {"before": [run(10, 2), run(30, 4)], "ledger": [run(22, 3), run(22, 3.6)]}
    summary = dict(ledger.summarize(runs))
    assert summary["closed loop, before: p50 / p95 ms"] == "20.0 / 40.0"
    assert summary["closed loop, ledger/before: p50, p95"] == "1.1, 1.1"
    assert summary["closed loop, ledger/before: web CPU per request"] == 1.1
    assert summary["closed loop: errors before / ledger"] == "0 / 0"


def test_gallery_pages_and_queries(db):
    result = gallery.run(images=200, users=4, teams=2, repeat=2)
    scopes = result["results"]["scopes"]
    assert set(scopes) == {"mine", "team", "public"}
    mine = scopes["mine"]
    assert mine["images_in_scope"] > 0
    for page in ("grid_first", "api_first"):
        assert mine[page]["queries"] > 0
        assert mine[page]["p95_ms"] >= mine[page]["p50_ms"]
    assert result["results"]["search_rare"]["api"]["queries"] > 0
    assert any(c["name"] == "worst page p95 ms" for c in result["checks"])


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_provenance_reports_signing_time_per_image():
    result = provenance.run(repeat=2, size=256)
    assert result["states"] == ["signed"]
    assert result["sign_ms_median"] > 0 and result["process_ms_median"] > 0
    assert result["checks"][0]["name"].startswith("signing ms per 1 MP")


def test_gpu_bench_runs_on_a_tiny_model_on_the_cpu(tiny, settings, tmp_path, capsys):
    from bench import gpu

    settings.QWEN_IMAGE_LOCAL_MODEL = str(tiny.model)  # what main() sets, restored after
    settings.QWEN_IMAGE_LOCAL_DEVICE = "cpu"
    out = tmp_path / "gpu.json"
    argv = ["--model", str(tiny.model), "--allow-cpu", "--size", "64x32", "--steps", "2"]
    argv += ["--runs", "1", "--cases", "64x32x2,48x32x1", "--json", str(out)]
    assert gpu.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["speed"]["ratio"] > 0
    cases = {case["case"]: case for case in result["cases"]}
    assert set(cases) == {"2 x 64x32", "1 x 48x32"}
    assert all("portal_s" in case and "failed" not in case for case in cases.values())
    assert "| case | estimate GiB |" in capsys.readouterr().out


def test_vae_bench_measures_one_decode_per_process():
    from bench import vae

    row = vae._measure("32", "32", "2", "slice", "bfloat16")
    assert row["n"] == 2 and row["mode"] == "slice" and row["peak_mib"] >= 0  # noise at 32²
    assert vae._estimate(32, 32, 2, "plain", "bfloat16") == 2 * vae._estimate(
        32, 32, 2, "slice", "bfloat16"
    )


def test_compare_exports_a_version_with_todays_bench(tmp_path):
    from bench.compare import export

    tree = export("HEAD", tmp_path / "tree")
    assert (tree / "manage.py").exists() and (tree / "bench" / "agent.py").exists()


def test_compare_table_puts_before_and_after_side_by_side():
    from bench.compare import render

    page = {"p50_ms": 10.0, "p95_ms": 20.0, "queries": 4, "sql_ms": 1.0, "plans": []}
    results = {
        "results": {
            "gallery": {
                "pages": {
                    "team grid first": {"before": page, "after": {**page, "p95_ms": 10.0}},
                    "team grid deep": {"before": {**page, "p50_ms": 25.0}, "after": page},
                },
                "upgrade_migrate_s": 8.1,
            },
            "worker": {
                "cpu_ms_per_image": {
                    "before": {"process": 100.0, "safety": 25.0, "total": 125.0},
                    "after": {"process": 30.0, "safety": 22.0, "total": 52.0},
                }
            },
        }
    }
    table = render(results)
    assert "| gallery team grid first p95 ms | 20.0 | 10.0 | 0.5 |" in table
    assert "| gallery team grid deep/first (p50) | 2.5 | 1.0 | 0.4 |" in table
    assert "| worker CPU ms per image: total | 125.0 | 52.0 | 0.416 |" in table


def test_gpu_bench_has_an_edit_row(monkeypatch):
    from bench import gpu, gpu_edit

    seen = []
    monkeypatch.setattr(gpu_edit, "main", lambda argv: seen.append(argv) or 0)
    assert gpu.main(["--edit", "--references", "1", "--steps", "4"]) == 0
    assert seen == [["--references", "1", "--steps", "4"]]
