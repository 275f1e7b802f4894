"""What a run means: the targets, checked against the measured values, and the report as a
plain-text table for the terminal."""

from __future__ import annotations


def check_targets(report: dict) -> list[dict]:
    """The issue's targets next to the measured values (a miss is reported, not hidden)."""
    checks: list[dict] = []

    def add(name: str, value: float | None, target: str, ok: bool | None) -> None:
        if value is not None:
            checks.append({"target": name, "value": value, "goal": target, "met": ok})

    embedding = report.get("embedding")
    if embedding and embedding.get("speedup"):
        add("embedding pipeline / per-image loop", embedding["speedup"], ">= 2x", embedding["speedup"] >= 2)
    for entry in report.get("query", {}).get("knn", []):
        if entry["rows"] == 44_000:
            p50 = entry["ours"]["p50_ms"]
            add(f"kNN p50 44k ({entry['filter']})", p50, "< 25 ms", p50 < 25)
            if entry.get("speedup_p50"):
                add(f"kNN speedup vs sklearn 44k ({entry['filter']})", entry["speedup_p50"], ">= 2x", entry["speedup_p50"] >= 2)
    app = report.get("app", {})
    if "cold_start_s" in app:
        add("app cold start", app["cold_start_s"], "< 5 s", app["cold_start_s"] < 5)
        rss = app.get("rss_mib_after_query", app["rss_mib_after_first_page"])
        add("app resident memory", rss, "< 1536 MiB", rss < 1536)
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
    if report.get("targets"):
        lines += ["", "Targets"]
        for t in report["targets"]:
            lines.append(f"  {'MET ' if t['met'] else 'MISS'} {t['target']}: {t['value']:.2f} (goal {t['goal']})")
    return "\n".join(lines)
