"""What a run means: the targets, checked against the measured values, and the report as a
plain-text table for the terminal."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from bench.knn import FILTER_CASES

KNN_TARGET_ROWS = 44_000  # the Kaggle catalogue's size: the targets are set for it
COMPARISONS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, ">=": operator.ge}


class NotMeasured(Exception):
    """Why a target's value is missing although its section ran (the reason goes in the report)."""


@dataclass(frozen=True)
class Target:
    """One goal of the issue: the value it reads from a report and the limit that value must keep."""

    name: str
    section: str  # the report section it reads: a target of a section that did not run is left out
    measure: Callable[[dict], float]  # the value from the report; raises NotMeasured
    comparison: str  # a key of COMPARISONS
    limit: float
    unit: str  # appended to the limit in the goal text: "x", " ms"

    @property
    def goal(self) -> str:
        return f"{self.comparison} {self.limit:g}{self.unit}"

    def met(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.limit)


def _measured(value: float | None, why_not: str) -> float:
    if value is None:
        raise NotMeasured(why_not)
    return value


def _embedding_speedup(report: dict) -> float:
    return _measured(report["embedding"]["speedup"], "the per-image loop took no measurable time")


def _knn(case: str, side_value: Callable[[dict], float | None]) -> Callable[[dict], float]:
    """A measure reading one filter case of the kNN timings at KNN_TARGET_ROWS rows."""

    def measure(report: dict) -> float:
        query = report["query"]
        for entry in query.get("knn", []):
            if entry["rows"] == KNN_TARGET_ROWS and entry["filter"] == case:
                return _measured(side_value(entry), "a side took no measurable time")
        skipped = [s["reason"] for s in query.get("skipped_sizes", []) if s["rows"] == KNN_TARGET_ROWS]
        why = f"skipped: {skipped[0]}" if skipped else "not in this run"
        raise NotMeasured(f"the {KNN_TARGET_ROWS:,}-row index was {why}")

    return measure


def _app(key: str) -> Callable[[dict], float]:
    def measure(report: dict) -> float:
        app = report["app"]
        if "error" in app:
            raise NotMeasured(app["error"])
        return app[key]

    return measure


def _look(report: dict) -> float:
    look = report["look"]
    if "error" in look:
        raise NotMeasured(look["error"])
    return look["look"]["p50_ms"]


def _app_memory(report: dict) -> float:
    """After the first photo query (the model loaded): the first page's figure would flatter the app."""
    app = report["app"]
    if "error" in app:
        raise NotMeasured(app["error"])
    if "rss_mib_after_query" not in app:
        raise NotMeasured(f"the photo query failed: {app.get('query_error', 'none was sent')}")
    return app["rss_mib_after_query"]


def _ann(rows: int, case: str, method: str, key: str) -> Callable[[dict], float]:
    """A measure reading one ANN figure at `rows` vectors (the ann section)."""

    def measure(report: dict) -> float:
        for size in report["ann"]["sizes"]:
            if size["rows"] == rows:
                value = size.get(case, {}).get(method, {}).get(key) if case else size.get(key)
                return _measured(value, f"{case} {method} {key} missing from the {rows:,} run")
        raise NotMeasured(f"{rows:,} vectors were not in this run (--ann-sizes)")

    return measure


TARGETS: tuple[Target, ...] = (
    Target("embedding pipeline / per-image loop", "embedding", _embedding_speedup, ">=", 2, "x"),
    *(Target(f"kNN p50 44k ({case})", "query", _knn(case, lambda e: e["ours"]["p50_ms"]), "<", 25, " ms")
      for case in FILTER_CASES),
    *(Target(f"kNN speedup vs sklearn 44k ({case})", "query", _knn(case, lambda e: e["speedup_p50"]), ">=", 2, "x")
      for case in FILTER_CASES),
    Target("app cold start", "app", _app("cold_start_s"), "<", 5, " s"),
    Target("app resident memory after a photo query", "app", _app_memory, "<", 1536, " MiB"),
    Target("shop the look p50 (photo to every garment's results)", "look", _look, "<", 1500, " ms"),
    *(Target(f"ANN 1M p50 ({case})", "ann", _ann(1_000_000, case, "hnsw", "p50_ms"), "<", 10, " ms")
      for case in ("no_filter", "gender_filter")),
    *(Target(f"ANN 1M recall@10 ({case})", "ann", _ann(1_000_000, case, "hnsw", "recall_at_10"), ">=", 0.95, "")
      for case in ("no_filter", "gender_filter")),
    Target("ANN 10M recall@10", "ann", _ann(10_000_000, "no_filter", "ivfpq", "recall_at_10"), ">=", 0.9, ""),
    *(Target(f"ANN 10M filtered recall@10 ({case})", "ann", _ann(10_000_000, case, "ivfpq", "recall_at_10"), ">=",
             0.95, "") for case in ("gender_filter", "rare_filter")),
    *(Target(f"ANN 10M filtered p95 ({case})", "ann", _ann(10_000_000, case, "ivfpq", "p95_ms"), "<", 50, " ms")
      for case in ("gender_filter", "rare_filter")),
    Target("ANN 10M serving memory", "ann", _ann(10_000_000, "", "", "process_rss_after_queries_mb"), "<", 8192,
           " MiB"),
)  # fmt: skip


def check_targets(report: dict, targets: tuple[Target, ...] = TARGETS) -> list[dict]:
    """Each target of a section that ran, next to its measured value: a miss is reported, not
    hidden, and so is a value that could not be measured (met False, with the reason)."""
    checks = []
    for target in targets:
        if target.section not in report["sections"]:
            continue
        check: dict = {"target": target.name, "goal": target.goal}
        try:
            value = target.measure(report)
        except NotMeasured as exc:
            check.update(value=None, met=False, reason=str(exc))
        else:
            check.update(value=value, met=target.met(value))
        checks.append(check)
    return checks


def render_table(report: dict) -> str:
    """The report as a plain-text table for the terminal."""
    lines: list[str] = []
    m = report["machine"]
    blas = ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']} x{b['num_threads']}" for b in m["blas"])
    lines.append(f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_total_gib']} GiB RAM, BLAS: {blas or 'n/a'}")
    lines.append(f"OPENBLAS_CORETYPE={m['openblas_coretype_env'] or '(unset)'}; load average before/after: "
                 f"{m['load_average']} / {m.get('load_average_after')}  (mode: {report['mode']})")
    if "matmul" in report:
        mm = report["matmul"]
        lines.append(
            f"Matmul {mm['n']}x{mm['n']} float32: numpy {mm['numpy_gflops']:.0f} GFLOP/s, "
            f"TensorFlow {mm['tensorflow_gflops']:.0f} GFLOP/s"
        )
    if "embedding" in report:
        e = report["embedding"]
        lines += ["", f"Embedding throughput ({e['backbone']}, {e['gflops_per_image']:.2f} GFLOPs/image, decode+resize included)"]
        lines.append(f"  {'method':<36}{'images':>8}{'images/s':>10}{'GFLOP/s':>9}{'of peak':>9}")
        for key, label in (("pipeline", "project pipeline (embed_sources)"), ("per_image_loop", "load_img + predict, one by one")):
            s = e[key]
            lines.append(
                f"  {label:<36}{s['images']:>8}{s['images_per_s']:>10.1f}{s['gflops']:>9.0f}{s['fraction_of_matmul_peak']:>9.0%}"
            )
        lines.append(f"  speedup: {e['speedup']:.2f}x")
    query = report.get("query", {})
    if "embed_one" in query:
        q = query["embed_one"]
        lines += ["", f"Query: embed one uploaded JPEG ({q['image_bytes']:,} bytes, {q['backbone']}): "
                  f"p50 {q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms"]
    if query.get("knn"):
        lines += ["", "kNN top 10 (p50 / p95 ms)", f"  {'rows':>9} {'filter':<20}{'matches':>9}{'ours':>17}{'scikit-learn':>19}{'speedup':>9}  same"]
        for entry in query["knn"]:
            ours, theirs = entry["ours"], entry["sklearn"]
            sk = f"{theirs['p50_ms']:.1f} / {theirs['p95_ms']:.1f}"
            lines.append(
                f"  {entry['rows']:>9,} {entry['filter']:<20}{entry['matching_rows_mean']:>9.0f}"
                f"{ours['p50_ms']:>9.1f} / {ours['p95_ms']:<6.1f}{sk:>18}{entry['speedup_p50']:>8.1f}x  {entry['same_results']}"
            )
        loads = {entry["rows"]: entry["index_load_s"] for entry in query["knn"]}
        lines.append("  scikit-learn filtered = per query: mask rows, fit NearestNeighbors(brute) on them, kneighbors")
        lines.append("  Index.load (memory-mapped): " + ", ".join(f"{rows:,} rows {s:.1f} s" for rows, s in loads.items()))
    for skipped in query.get("skipped_sizes", []):
        lines.append(f"  {skipped['rows']:,} rows skipped: {skipped['reason']}")
    if report.get("build"):
        lines.append("")
    for b in report.get("build", []):
        if "count" in b:
            lines.append(f"Build {b['backbone']}: {b['count']:,} images in {b['seconds']:.0f} s ({b['images_per_s']:.1f} images/s)")
        else:
            lines.append(f"Build {b['backbone']}: failed (exit {b['returncode']}): {b['error']}")
    if "app" in report:
        a = report["app"]
        if "cold_start_s" in a:
            lines += ["", f"App ({a['index_rows']:,}-item index): first page served {a['cold_start_s']:.2f} s after launch "
                      f"({a['cold_start_with_layout_s']:.2f} s with its layout); RSS {a['rss_mib_after_first_page']:.0f} MiB"]
            if "rss_mib_after_query" in a:
                lines.append(f"  first photo query (waits for the model): {a['first_query_s']:.1f} s, "
                             f"{a['first_query_results']} results; RSS {a['rss_mib_after_query']:.0f} MiB, "
                             f"peak {a['rss_peak_mib']:.0f} MiB")
            else:
                lines.append(f"  photo query not measured: {a.get('query_error', 'no image')}")
        else:
            lines += ["", f"App: {a['error']}: {a.get('log_tail', '')}"]
    if "look" in report:
        lines += ["", *look_lines(report["look"])]
    if "ann" in report:
        lines += ["", *ann_lines(report["ann"])]
    if report.get("targets"):
        lines += ["", "Targets"]
        for t in report["targets"]:
            value = f"{t['value']:.2f}" if t["value"] is not None else f"not measured: {t['reason']}"
            lines.append(f"  {'MET ' if t['met'] else 'MISS'} {t['target']}: {value} (goal {t['goal']})")
    return "\n".join(lines)


def ann_lines(ann: dict) -> list[str]:
    """The ann section: per size and filter case, each method's p50 / p95, recall@10, and the costs."""
    contrast = ann["neighbour_contrast"]
    lines = [f"Approximate search (top {ann['k']}; {ann['synthetic']}; 10th-neighbour / median distance: real "
             f"{contrast['real']:.2f}, synthetic {contrast['synthetic']:.2f})"]
    for size in ann["sizes"]:
        params = ", ".join(f"{k}={v}" for k, v in size["params"].items() if v is not None)
        lines.append(f"  {size['rows']:,} x {size['dim']}: {size['ann']} ({params}), built in {size['build_s']:.0f} s, "
                     f"file {size['ann_file_mb']:,} MB, process RSS {size['process_rss_after_queries_mb']:,} MB")
        for case in ("no_filter", "gender_filter", "rare_filter"):
            for method, m in size.get(case, {}).items():
                if not isinstance(m, dict):  # the case's share and selection time, not a method
                    continue
                recall = f", recall@10 {m['recall_at_10']:.3f}" if "recall_at_10" in m else ""
                lines.append(f"    {case:<14}{method:<8} p50 {m['p50_ms']:8.2f} ms  p95 {m['p95_ms']:8.2f} ms{recall}")
        for row in size.get("ef_sweep", []):
            lines.append(f"    efSearch {row['ef_search']:<4} p50 {row['p50_ms']:.2f} ms, recall@10 {row['recall_at_10']:.3f}")
    return lines


def look_lines(look: dict) -> list[str]:
    """The look section: a single photo search and shop the look, side by side (p50 / p95 ms)."""
    if "error" in look:
        return [f"Shop the look: not measured: {look['error']}"]
    single, every = look["single_search"], look["look"]
    return [f"Shop the look ({look['photos']} photos from {look['photos_from']}, index {look['index']}):",
            f"  single photo search, top 10:         p50 {single['p50_ms']:7.0f} ms  p95 {single['p95_ms']:7.0f} ms",
            f"  every garment's top 10 (look):       p50 {every['p50_ms']:7.0f} ms  p95 {every['p95_ms']:7.0f} ms  "
            f"({look['garments_per_photo']:.1f} garments a photo)"]
