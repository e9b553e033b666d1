#!/usr/bin/env python3
"""check_report.py — checks a report.html (as a browser's DOM) against metrics.json.

    python3 scripts/check_report.py DOM.html RUN_DIR [--expect-trend N] [--expect-loss]

DOM.html is the page as rendered (`chromium --headless --dump-dom`), or report.html itself.
Checks, with Python's html.parser and json only:
  - every metric cell (data-metric/data-dataset[/data-class]) carries exactly the value of
    metrics.json (mIoU, mAcc, aAcc, samples, skipped, per-class IoU and Acc, the average mIoU or
    each named average's) and
    shows it rounded to two decimals ("-" when null);
  - every metric of metrics.json appears on the page;
  - one per-class IoU bar chart per dataset whose bars carry the IoU values;
  - the mIoU trend chart with N points per dataset (when --expect-trend N);
  - the loss chart when --expect-loss (and none otherwise);
  - the gallery of each dataset is ordered worst first (ascending IoU) and each item has
    three embedded PNG images (data: URIs), and nothing on the page is fetched from elsewhere.
Prints a summary; exits 1 listing every mismatch.
"""
import argparse
import json
import sys
from html.parser import HTMLParser


class Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # open elements: (tag, attrs, text parts); data goes to every open one
        self.cells = []          # (attrs, text)
        self.elements = []       # (tag, attrs) of every start tag

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag in ("img", "br", "meta", "link", "input", "hr"):
            return  # void elements: no end tag
        self.stack.append((tag, a, []))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                t, a, parts = self.stack[i]
                del self.stack[i:]
                text = "".join(parts).strip()
                if "data-metric" in a:
                    self.cells.append((a, text))
                return

    def handle_data(self, data):
        for _, _, parts in self.stack:
            parts.append(data)


def fmt(v):
    return "-" if v is None else "%.2f" % v


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dom")
    parser.add_argument("run_dir")
    parser.add_argument("--expect-trend", type=int, default=None)
    parser.add_argument("--expect-loss", action="store_true")
    args = parser.parse_args()

    page = open(args.dom, encoding="utf-8").read()
    metrics = json.load(open(args.run_dir + "/metrics.json", encoding="utf-8"))
    c = Collector()
    c.feed(page)
    problems = []

    expected = {}
    for d in metrics["datasets"]:
        n = d["name"]
        for key in ("mIoU", "mAcc", "aAcc"):
            expected[(key, n, None)] = d[key]
        expected[("samples", n, None)] = d["samples"]
        expected[("skipped", n, None)] = d["skipped"]
        for cls in d["classes"]:
            expected[("IoU", n, cls["name"])] = cls["IoU"]
            expected[("Acc", n, cls["name"])] = cls["Acc"]
    if "averages" in metrics:
        # The manifest's named averages, one row each (data-dataset: the name).
        for group in metrics["averages"]:
            expected[("average.mIoU", group["name"], None)] = group["mIoU"]
    elif len(metrics["datasets"]) > 1:
        expected[("average.mIoU", "", None)] = metrics["average"]["mIoU"]

    seen = set()
    for a, text in c.cells:
        key = (a["data-metric"], a.get("data-dataset", ""), a.get("data-class"))
        if key[0] == "loss":
            continue
        if key not in expected:
            problems.append(f"page shows {key} which metrics.json does not have")
            continue
        seen.add(key)
        want = expected[key]
        raw = a.get("data-value")
        got = None if raw == "null" else (int(raw) if key[0] in ("samples", "skipped") else float(raw))
        if got != want:
            problems.append(f"{key}: page value {raw} != metrics.json {want!r}")
        shown = str(want) if key[0] in ("samples", "skipped") else fmt(want)
        if text != shown:
            problems.append(f"{key}: page shows {text!r}, expected {shown!r}")
    for key in expected:
        if key not in seen:
            problems.append(f"{key} of metrics.json is not on the page")

    # Bar charts: one per dataset, bars equal to the IoUs.
    svgs = [(t, a) for t, a in c.elements if t == "svg"]
    for d in metrics["datasets"]:
        charts = [a for t, a in svgs if "class-iou" in a.get("class", "") and a.get("data-dataset") == d["name"]]
        if len(charts) != 1:
            problems.append(f"{d['name']}: {len(charts)} per-class IoU charts (expected 1)")
    bars = [a for t, a in c.elements if t == "rect" and a.get("class") == "bar"]
    defined = sum(1 for d in metrics["datasets"] for cls in d["classes"] if cls["IoU"] is not None)
    if len(bars) != defined:
        problems.append(f"{len(bars)} bars, expected {defined} (one per defined class IoU)")
    by_ds_class = {(d["name"], cls["name"]): cls["IoU"] for d in metrics["datasets"] for cls in d["classes"]}
    # bars do not carry the dataset; the chart order does: walk bars per chart in document order
    order = []
    current = None
    for t, a in c.elements:
        if t == "svg" and "class-iou" in a.get("class", ""):
            current = a.get("data-dataset")
        elif t == "rect" and a.get("class") == "bar":
            order.append((current, a["data-class"], float(a["data-value"])))
    for ds, cls, v in order:
        if by_ds_class.get((ds, cls)) != v:
            problems.append(f"bar {ds}/{cls} = {v} != metrics.json {by_ds_class.get((ds, cls))}")

    trend = [a for t, a in svgs if "trend" in a.get("class", "")]
    points = [a for t, a in c.elements if t == "circle" and a.get("class") == "point"]
    if args.expect_trend is not None:
        if len(trend) != 1:
            problems.append(f"{len(trend)} trend charts (expected 1)")
        for d in metrics["datasets"]:
            n = sum(1 for p in points if p.get("data-dataset") == d["name"])
            if n != args.expect_trend:
                problems.append(f"trend of {d['name']}: {n} points, expected {args.expect_trend}")
            last = [p for p in points if p.get("data-dataset") == d["name"]][-1:]
            if last and float(last[0]["data-value"]) != d["mIoU"]:
                problems.append(f"trend of {d['name']}: newest point {last[0]['data-value']} != mIoU {d['mIoU']}")
    loss = [a for t, a in svgs if "loss" in a.get("class", "").split()]
    if args.expect_loss and len(loss) != 1:
        problems.append(f"{len(loss)} loss charts (expected 1)")
    if not args.expect_loss and loss:
        problems.append("a loss chart although the run did not train")

    # Gallery: worst first, three embedded PNGs each.
    figures = []
    gallery = None
    for t, a in c.elements:
        if t == "div" and a.get("class") == "gallery":
            gallery = a.get("data-dataset")
        elif t == "figure" and a.get("class") == "triplet":
            figures.append([gallery, a, 0])
        elif t == "img" and figures and a.get("src", "").startswith("data:image/png;base64,"):
            figures[-1][2] += 1
    for d in metrics["datasets"]:
        items = [(f[1], f[2]) for f in figures if f[0] == d["name"]]
        if not items:
            problems.append(f"{d['name']}: no gallery")
        scores = [float(a["data-miou"]) for a, _ in items]
        if scores != sorted(scores):
            problems.append(f"{d['name']}: gallery not worst first: {scores}")
        if any(n != 3 for _, n in items):
            problems.append(f"{d['name']}: a gallery item without its three PNG thumbnails")
    for t, a in c.elements:
        for attr in ("src", "href"):
            v = a.get(attr)
            if v and not v.startswith("data:") and not v.startswith("#"):
                problems.append(f"<{t} {attr}={v!r}> would fetch from outside the page")

    print(f"checked {len(seen)} metric cells, {len(bars)} bars, {len(points)} trend points, "
          f"{len(figures)} gallery items, {len(loss)} loss chart(s) against {args.run_dir}/metrics.json")
    for p in problems:
        print("MISMATCH:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
