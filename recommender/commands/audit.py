"""`python -m recommender audit`: suspect labels, duplicates, broken pictures and thin categories of an index."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from recommender.commands import positive_int

# the command's user has the index folders: the raw one a head was trained from is theirs to audit
TRAINED_NOTE = ("This index's head was trained on the labels being checked: products it learnt from look less suspect "
                "than they are. For a stricter audit, audit the raw index it was trained from (python -m recommender "
                "audit --index RAW_DIR; the demo keeps its own beside it, as demo-index-backbone).")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="list products whose labels their pictures disagree with, duplicates and broken pictures",
        description="Audit the catalogue of an index folder: labels that an out-of-fold model and the nearest "
                    "neighbours disagree with (most suspicious first), near-duplicate pictures, blank, broken or "
                    "tiny pictures and categories with too few products. The report is also saved as audit.json "
                    "in the index folder, where the Audit page reads it.",
    )
    parser.add_argument("--index", type=Path, required=True, metavar="DIR", help="index folder")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--csv", type=Path, metavar="OUT", help="write the suspects as CSV to OUT")
    parser.add_argument("--top", type=positive_int, default=20, metavar="N",
                        help="lines printed of each finding: suspects, duplicates, pictures, thin categories "
                             "(default: 20)")
    parser.add_argument("--swap-test", type=float, metavar="SHARE",
                        help="measure instead: swap this share (e.g. 0.02) of the held-out products' category "
                             "labels, audit, and print precision and recall at N and 2N")
    parser.add_argument("--seed", type=int, default=0, help="the swap test's seed (and its held-out split on an "
                                                            "index without one; default: 0)")
    parser.add_argument("--no-save", action="store_true", help="do not write audit.json into the index folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.audit import audit
    from recommender.audit_store import save_report
    from recommender.errors import RecommenderError
    from recommender.index_files import read_index

    files = read_index(args.index)
    if args.swap_test is not None:
        if not 0 < args.swap_test < 1:
            raise RecommenderError(f"--swap-test takes a share between 0 and 1, such as 0.02, not {args.swap_test}.")
        from recommender.audit_swap import swap_test

        print(json.dumps(swap_test(files, args.swap_test, args.seed).to_json(), indent=1))
        return 0
    report = audit(files)
    if not args.no_save:
        try:
            save_report(args.index, report)
        except OSError as exc:  # a read-only index folder: the report is still printed
            print(f"note: the report could not be saved in {args.index} ({exc.strerror or exc}).", file=sys.stderr)
    if args.csv:
        write_csv(args.csv, report)
    if args.json:
        print(json.dumps(report.to_json(), indent=1, ensure_ascii=False))
        return 0
    for note in report.notes:
        print(note)
    if report.trained_on_labels:
        print(TRAINED_NOTE)
    print(f"{len(report.suspects)} suspect labels, {len(report.duplicates)} groups of duplicates, "
          f"{len(report.images)} broken or tiny pictures, {len(report.thin)} thin categories.")
    for s in report.suspects[: args.top]:
        print(f"{s.id}\t{s.attribute}: {s.label} -> {s.suggested} ({s.confidence:.2f})")
    for group in report.duplicates[: args.top]:  # which ids to merge or delete, without opening the JSON
        print(f"duplicates\t{', '.join(group['ids'])}")
    for image in report.images[: args.top]:
        print(f"picture\t{image['id']}: {image['reason']}")
    for thin in report.thin[: args.top]:
        print(f"thin\t{thin['attribute']} {thin['value']}: {thin['count']} products")
    return 0


def write_csv(path: Path, report: object) -> None:
    from recommender.atomic import atomic_write

    with atomic_write(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "attribute", "label", "suggested", "confidence"])
        for s in report.suspects:
            writer.writerow([s.id, s.attribute, s.label, s.suggested, s.confidence])
