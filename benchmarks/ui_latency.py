"""UI latency of the served dashboard (``panel serve app/``) in headless Chromium, per page.

Run:  .venv/bin/python benchmarks/ui_latency.py                       # every page (2 cores: ~1 h a page with phase 3)
      .venv/bin/python benchmarks/ui_latency.py --skip-load           # phases 1, 2 and 4 only (~20 min for the six)
      .venv/bin/python benchmarks/ui_latency.py --quick        # smoke run: events page, 5 interactions, 3 sessions
      .venv/bin/python benchmarks/ui_latency.py --pages events jetclr --interactions 50 --json /tmp/lat.json

The script starts its own server (``python -m panel serve app/`` on ``--port``, loopback only) with
``JETVIZ_CACHE`` set to a temporary directory (``--cache`` to use another; the ``ee_6jet`` samples
of ``~/.cache/jetviz/samples`` are copied in so the events page's real default loads without
generating), and drives it with Playwright (system Chromium ``/usr/bin/chromium``). Every time is
measured inside the page (``performance.now()``, probes in ``benchmarks/_latency.js``):

1. **first render** — navigation start → the page idle with all its plots drawn: every Bokeh
   document idle (``Document.is_idle``), every Bokeh plot view finished (``has_finished()``, no
   paint pending) and the page's required plots present; the last such moment before the set of
   plots stayed unchanged for ``QUIET_MS``. ``--repeats`` fresh sessions (the first, which warms
   the server's imports and samples, is not counted).
2. **widget → redraw** — the input event's time stamp (``keydown`` on a slider's noUi handle,
   ``input`` of a select / the ``pointerup`` of a radio button click, a tap or a box drag) → the
   last paint of the bound plot whose canvas (primary layer pixels) differs from before the input,
   with every plot view drawn and the documents idle. ``--interactions`` per widget kind: slider
   (ArrowRight / ArrowLeft alternating), select (next option; one-of-many radio groups count as
   selects), tap (a point of a tap-tool plot), box (a box-select drag on a plot).
3. (not with ``--skip-load``) the same with ``--sessions`` browser contexts open on the page while one training runs (started
   with the Train button, tiny model and many epochs, in a session of its own; the page's own Train
   button, or the jetclr page's for pages without one); interactions go round-robin over the sessions.
4. ``--sessions`` sessions opened at once → all rendered (first navigation start → last first render).

Until a method page opens on a reference run it shows only the plots that need no run (the
output lists the plots present); ``--train-first`` trains a tiny run (2 epochs) once per method
page and every measured session opens it (Open run), so the result plots and their tap / box
widgets are measured too. ``--toy-sample`` makes the events page load ``toy_ee_6jet``.

Targets: first render < 3 s, widget → redraw p95 < 150 ms alone and < 500 ms under load, all
sessions rendered < 10 s. ``--json PATH`` writes every sample. No figure is asserted in a test.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from jetviz.data.io import atomic_write
from jetviz.serve import free_port, running_server

ROOT = Path(__file__).resolve().parents[1]
PROBES = Path(__file__).with_name("_latency.js")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 4000}  # the template scrolls inside its main area: show the whole page
PAGES = ("events", "colorize", "classify", "vae_emd", "jetclr", "runs")
KINDS = ("slider", "select", "tap", "box")
#: the set of plots must stay unchanged this long before a first render counts as done
QUIET_MS = 1500
FIRST_LOAD_S = 600.0  # a fresh server imports torch and generates / prepares samples on the first session
LOAD_S = 120.0
REDRAW_TIMEOUT_MS = 30_000
TARGETS = {"first": 3000.0, "alone": 150.0, "load": 500.0, "sessions": 10_000.0}
#: tiny runs with many epochs: the training keeps the server busy while the load phase lasts (then cancelled)
TRAIN_QUERY = {
    "colorize": dict(sample="toy_ee_6jet", n_train=32, n_test=16, base_channels=4, depth=2, epochs=5000, batch_size=16,
                     crf_iterations=3),
    "classify": dict(sample="toy_bh_sph", n_events=120, n_folds=2, width=2, epochs=5000, threads=1),
    "vae_emd": dict(sample="toy_top_qcd", n_jets=200, n_pix=16, latent=8, channels=4, epochs=5000, n_corr=12,
                    threads=1),
    "jetclr": dict(sample="toy_top_qcd", n_jets=120, epochs=5000, d_model=16, n_heads=2, n_layers=1, rep_dim=16,
                   proj_dim=8, n_angles=7, n_invariance=16, batch_size=32, n_constituents=20, extra_slots=8, threads=1),
}


@dataclass(frozen=True)
class Interaction:
    """One widget bound to one plot: ``action`` on ``widget`` (css, or a slider's title text) redraws ``target``.

    ``action``: ``key`` (noUi slider handle), ``select`` (HTML select), ``radio`` (button group),
    ``tap`` / ``box`` (a point click / a box drag on the plot of css class ``source``).
    """

    kind: str
    action: str
    target: str
    widget: str = ""
    title: str = ""
    source: str = ""

    def label(self) -> str:
        what = self.widget or (f"slider '{self.title}'" if self.title else f".{self.source}")
        return f"{what} → .{self.target}"


@dataclass(frozen=True)
class PageSpec:
    """What a page must show before it counts as rendered, its plots, and its widgets → plots."""

    ready: tuple[str, ...]  # css selectors that must be attached (non-plot parts: buttons, summaries)
    required: tuple[str, ...]  # plot classes that must hold a drawn Bokeh plot
    plots: tuple[str, ...]  # every plot class the page can show (reported present / absent)
    interactions: tuple[Interaction, ...]
    train: str | None = None  # page whose Train button runs the load-phase training


SPECS: dict[str, PageSpec] = {
    "events": PageSpec(
        ready=(".jetviz-event-summary",), required=("jetviz-scatter", "jetviz-detector-image"),
        plots=("jetviz-scatter", "jetviz-detector-image"),
        interactions=(
            Interaction("slider", "key", "jetviz-scatter", widget=".jetviz-event-slider"),
            Interaction("select", "radio", "jetviz-detector-image", widget=".jetviz-channel"),
        ),
        train="jetclr"),
    "colorize": PageSpec(
        ready=(".jetviz-train button",), required=(),
        plots=("jetviz-energy-map", "jetviz-predicted", "jetviz-truth", "jetviz-heatmaps", "jetviz-loss",
               "jetviz-masses"),
        interactions=(
            Interaction("slider", "key", "jetviz-predicted", widget=".jetviz-crf-slider"),
            Interaction("slider", "key", "jetviz-truth", widget=".jetviz-event-slider"),
        ),
        train="colorize"),
    "classify": PageSpec(
        ready=(".jetviz-train button",), required=(),
        plots=("jetviz-accuracy-bars", "jetviz-roc", "jetviz-confusion", "jetviz-importance", "jetviz-curves",
               "jetviz-event-images", "jetviz-examples"),
        interactions=(
            Interaction("slider", "key", "jetviz-importance", title="Features shown"),
            Interaction("select", "select", "jetviz-event-images", widget=".jetviz-model"),
            Interaction("select", "radio", "jetviz-examples", widget=".jetviz-examples-show"),
        ),
        train="classify"),
    "vae_emd": PageSpec(
        ready=(".jetviz-train button",), required=(),
        plots=("jetviz-roc", "jetviz-densities", "jetviz-pairs", "jetviz-transport", "jetviz-pair-images",
               "jetviz-latent", "jetviz-loss"),
        interactions=(
            Interaction("select", "radio", "jetviz-densities", widget=".jetviz-p"),
            Interaction("tap", "tap", "jetviz-transport", source="jetviz-pairs"),
            Interaction("box", "box", "jetviz-latent-selection", source="jetviz-latent"),
        ),
        train="vae_emd"),
    "jetclr": PageSpec(
        ready=(".jetviz-train button",), required=("jetviz-aug-plots", "jetviz-rotated"),
        plots=("jetviz-roc", "jetviz-loss", "jetviz-invariance", "jetviz-latent", "jetviz-aug-plots",
               "jetviz-rotated", "jetviz-ablation-bars"),
        interactions=(
            Interaction("slider", "key", "jetviz-rotated", widget=".jetviz-angle"),
            Interaction("box", "box", "jetviz-latent-selection", source="jetviz-latent"),
        ),
        train="jetclr"),
    "runs": PageSpec(
        ready=(".jetviz-registry-path",), required=(), plots=("jetviz-compare",),
        interactions=(Interaction("select", "select", "jetviz-compare", widget=".jetviz-metric"),),
        train="jetclr"),
}


# ----------------------------------------------------------------------------- statistics
def percentiles(samples: list[float]) -> dict:
    """``{"n", "p50", "p95"}`` of ``samples`` (ms; p50 / p95 None when empty)."""
    if not samples:
        return {"n": 0, "p50": None, "p95": None}
    arr = np.asarray(samples, dtype=float)
    return {"n": int(arr.size), "p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95))}


def verdict(value: float | None, target: float) -> str:
    """``PASS`` when ``value`` < ``target``, ``MISS`` otherwise, ``n/a`` without a value."""
    return "n/a" if value is None else ("PASS" if value < target else "MISS")


# ----------------------------------------------------------------------------- the server
@contextlib.contextmanager
def serve(port: int, env: dict[str, str], log: Path, timeout: float = 120.0):
    """``python -m panel serve app/`` on ``127.0.0.1:port`` with ``env`` added; yields ``http://localhost:P/app``
    once it answers (:func:`jetviz.serve.running_server`)."""
    cmd = [sys.executable, "-m", "panel", "serve", "app/", "--port", str(port), "--address", "127.0.0.1",
           "--allow-websocket-origin", f"localhost:{port}", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    url = f"http://localhost:{port}/app"
    with running_server(cmd, url, log, env={**os.environ, **env}, cwd=ROOT, timeout=timeout):
        yield url


def seed_cache(cache: Path, source: Path = Path.home() / ".cache" / "jetviz" / "samples") -> list[str]:
    """Copy the cached ``ee_6jet`` samples (the events page's default) into ``cache/samples``; their names."""
    copied = []
    if source.is_dir():
        (cache / "samples").mkdir(parents=True, exist_ok=True)
        for path in sorted(source.glob("ee_6jet-*")):
            if path.is_file() and not (cache / "samples" / path.name).exists():
                shutil.copy2(path, cache / "samples" / path.name)
                copied.append(path.name)
    return copied


# ----------------------------------------------------------------------------- the browser
class Session:
    """One browser context with one page, the probes of ``_latency.js`` installed."""

    def __init__(self, browser, probes: str):
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.add_init_script(probes)
        self.page = self.context.new_page()
        self.origin = None  # performance.timeOrigin of the current document (ms since the epoch)
        self.done: dict[str, int] = {}  # interactions performed in this session, per interaction label

    def open(self, url: str) -> None:
        """Start navigating to ``url`` (returns once the response starts)."""
        self.page.goto(url, wait_until="commit", timeout=int(FIRST_LOAD_S * 1000))

    def wait_rendered(self, spec: PageSpec, timeout_s: float, every_plot: bool = False) -> dict:
        """Wait for the first render; ``{"ms": since navigation start, "plots": {class: n}, "reference": bool}``.

        ``every_plot``: all of ``spec.plots`` must be drawn (a finished run shown), as when the
        page shows a reference run.
        """
        page, deadline = self.page, time.monotonic() + timeout_s
        for css in spec.ready:
            left_ms = max(1, int((deadline - time.monotonic()) * 1000))
            page.locator(css).first.wait_for(state="attached", timeout=left_ms)
        page.evaluate("() => window.__jv.start_monitor()")
        while True:
            s = page.evaluate("""() => { const J = window.__jv; const s = J.state();
                return {key: J.ready_key, at: J.ready_at, now: performance.now(), plots: s.plots,
                        origin: performance.timeOrigin}; }""")
            reference = page.locator(".jetviz-reference").filter(has_text=re.compile(r"\w")).count() > 0
            required = set(spec.required) | (set(spec.plots) if reference or every_plot else set())
            if s["key"] is not None and required <= set(s["plots"]) and s["now"] - s["at"] >= QUIET_MS:
                self.origin = s["origin"]
                page.evaluate("() => window.__jv.stop_monitor()")
                return {"ms": s["at"], "plots": s["plots"], "reference": reference, "origin": s["origin"]}
            if time.monotonic() > deadline:
                missing = sorted(required - set(s["plots"]))
                raise TimeoutError(f"page not rendered within {timeout_s:.0f} s (plots missing: {missing}, "
                                   f"idle: {s['key'] is not None})")
            page.wait_for_timeout(100)

    def open_run(self, spec: PageSpec, timeout_s: float) -> str:
        """Open the newest finished run of the page (its Open run button); wait until every plot is drawn.

        Returns ``""``, or why not every plot was drawn in time (the session is measured as it is).
        """
        self.page.locator(".jetviz-open button").first.click(timeout=int(timeout_s * 1000))
        try:
            self.wait_rendered(spec, timeout_s, every_plot=True)
        except TimeoutError as err:
            return str(err)
        return ""

    def close(self) -> None:
        self.context.close()


def _has_plot(page, cls: str) -> bool:
    return page.evaluate("(c) => window.__jv.state().plots[c] > 0", cls)


def usable(page, it: Interaction) -> str:
    """``""`` when ``it`` can be measured in the page's current state, else why not."""
    if not _has_plot(page, it.target) and it.action not in ("tap", "box"):
        return f"no plot in .{it.target}"
    if it.action in ("tap", "box"):
        if not _has_plot(page, it.source):
            return f"no plot in .{it.source}"
        return ""
    widget = _widget(page, it)
    if widget.count() == 0 or not widget.first.is_visible():
        return "widget absent"
    if not widget.first.is_enabled():
        return "widget disabled"
    return ""


def _widget(page, it: Interaction):
    if it.action == "key":
        base = page.locator(it.widget) if it.widget else page.locator(".bk-input-group").filter(
            has=page.locator(".bk-slider-title", has_text=it.title))
        return base.locator(".noUi-handle")
    if it.action == "select":
        return page.locator(f"{it.widget} select")
    return page.locator(f"{it.widget} button")


def interact(session: Session, it: Interaction) -> dict:
    """Perform the next interaction of ``it`` in ``session`` and time it; ``{"ms": float | None, ...}``.

    The count of earlier ones in the session picks the slider direction (right, left, right, …:
    the value stays within one step of where it started), the point tapped and the box dragged.
    """
    page, k = session.page, session.done.get(it.label(), 0)
    session.done[it.label()] = k + 1
    if it.action in ("tap", "box"):
        page.locator(f".{it.source}").first.scroll_into_view_if_needed()
        geometry = page.evaluate("([c, k]) => window.__jv.geometry(c, k)", [it.source, k])
        if geometry is None:
            return {"ms": None, "why": "no plot"}
        if it.action == "tap" and "point" not in geometry:
            return {"ms": None, "why": "no glyph to tap"}
        if it.action == "box" and not page.evaluate("(c) => window.__jv.activate_box(c)", it.source):
            return {"ms": None, "why": "no box-select tool"}
    if page.evaluate("([c, e]) => window.__jv.arm(c, e)",
                     [it.target, {"key": "keydown", "select": "input"}.get(it.action, "pointerup")]) == 0 \
            and it.action not in ("tap", "box"):
        return {"ms": None, "why": "no target plot"}
    if it.action == "key":
        handle = _widget(page, it).first
        handle.focus()
        handle.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
    elif it.action == "select":
        select = _widget(page, it).first
        values = select.locator("option").evaluate_all("(os) => os.map(o => o.value)")
        current = select.input_value()
        nxt = values[(values.index(current) + 1) % len(values)] if current in values else values[0]
        select.select_option(nxt)
    elif it.action == "radio":
        buttons = _widget(page, it)
        n = buttons.count()
        active = [i for i in range(n) if "bk-active" in (buttons.nth(i).get_attribute("class") or "")]
        buttons.nth(((active[0] if active else 0) + 1) % n).click()
    elif it.action == "tap":
        page.mouse.click(geometry["point"]["x"], geometry["point"]["y"])
    elif it.action == "box":
        f = geometry["frame"]
        rng = np.random.default_rng(k)
        ax, bx = sorted(rng.uniform(0.02, 0.98, 2)) if k % 3 else (0.05, 0.95)
        ay, by = sorted(rng.uniform(0.02, 0.98, 2)) if k % 3 else (0.05, 0.95)
        bx, by = max(bx, ax + 0.4), max(by, ay + 0.4)
        w, h = f["x1"] - f["x0"], f["y1"] - f["y0"]
        page.mouse.move(f["x0"] + ax * w, f["y0"] + ay * h)
        page.mouse.down()
        page.mouse.move(f["x0"] + min(bx, 0.99) * w, f["y0"] + min(by, 0.99) * h, steps=6)
        page.mouse.up()
    return page.evaluate("(t) => window.__jv.wait(t)", REDRAW_TIMEOUT_MS)


def measure_kinds(sessions: list, spec: PageSpec, n: int) -> dict:
    """``{kind: {"interaction", "samples", "misses", "absent"}}`` over ``n`` interactions per kind,
    round-robin over ``sessions`` (Session objects); the first usable interaction of each kind."""
    out = {}
    for kind in KINDS:
        candidates = [it for it in spec.interactions if it.kind == kind]
        if not candidates:
            out[kind] = {"absent": "the page has no widget of this kind"}
            continue
        why, chosen = {}, None
        for it in candidates:
            why[it.label()] = usable(sessions[0].page, it)
            if not why[it.label()]:
                chosen = it
                break
        if chosen is None:
            out[kind] = {"absent": "; ".join(f"{k}: {v}" for k, v in why.items())}
            continue
        samples, misses, detail = [], 0, []
        interact(sessions[0], chosen)  # warm-up (not counted)
        interact(sessions[0], chosen)  # back where it started (sliders)
        for k in range(n):
            result = interact(sessions[k % len(sessions)], chosen)
            detail.append(result)
            if result.get("ms") is None:
                misses += 1
            else:
                samples.append(result["ms"])
        out[kind] = {"interaction": chosen.label(), "samples": samples, "misses": misses, "detail": detail}
    return out


def _open_all(browser, probes, url, spec, n, timeout_s) -> tuple[list, list]:
    """``n`` sessions navigating to ``url`` at once (no waiting between the starts); their first renders."""
    sessions = [Session(browser, probes) for _ in range(n)]
    for s in sessions:
        with contextlib.suppress(Exception):  # the navigation may tear down the context before the reply
            s.page.evaluate("(u) => { setTimeout(() => { window.location.href = u; }, 0); }", url)
    for s in sessions:
        s.page.wait_for_url(re.compile(re.escape(url)), wait_until="commit", timeout=int(timeout_s * 1000))
    renders = [s.wait_rendered(spec, timeout_s) for s in sessions]
    return sessions, renders


def bench_page(browser, probes: str, base: str, name: str, args, result: dict) -> dict:
    """Every measure of one page (see the module docstring) into ``result`` (``result["phase"]``: the
    one under way, so a failure says where and the earlier figures stay); progress lines to stderr."""
    spec = SPECS[name]
    url = f"{base}?page={name}"
    log = lambda msg: print(f"[{name}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    result["phase"] = "first render"

    # 1. first render: a warm-up session (imports, samples), then fresh sessions one at a time
    warm = Session(browser, probes)
    warm.open(url)
    first = warm.wait_rendered(spec, FIRST_LOAD_S)
    log(f"warm-up rendered in {first['ms']:.0f} ms; plots {first['plots']}")
    warm.close()
    renders = []
    for _ in range(args.repeats):
        s = Session(browser, probes)
        s.open(url)
        renders.append(s.wait_rendered(spec, LOAD_S))
        s.close()
    last = renders[-1]
    result["reference"] = last["reference"]
    result["plots_present"] = sorted(c for c in spec.plots if c in last["plots"])
    result["plots_absent"] = sorted(c for c in spec.plots if c not in last["plots"])
    result["first_render"] = {"samples": [r["ms"] for r in renders], "warm_up_ms": first["ms"]}
    log(f"first render {percentiles(result['first_render']['samples'])}")

    # a finished run to show (--train-first, pages with a Train button): trained once, opened by every session
    shown = args.train_first and spec.train == name and not result["reference"]
    result["phase"] = "train a run (--train-first)"
    if shown:
        trainer = Session(browser, probes)
        trainer.open(f"{base}?page={name}&{urlencode({**TRAIN_QUERY[name], 'epochs': 2})}")
        trainer.wait_rendered(spec, LOAD_S)
        trainer.page.locator(".jetviz-train button").first.click()
        trainer.wait_rendered(spec, FIRST_LOAD_S, every_plot=True)
        trainer.close()
        log("trained a tiny run (2 epochs) for the sessions to open")
    result["run_opened"] = shown

    # 2. widget → redraw, one session
    result["phase"] = "widget → redraw, 1 session"
    s = Session(browser, probes)
    s.open(url)
    s.wait_rendered(spec, LOAD_S)
    if shown:
        result["open_run_problems"] = [why for why in [s.open_run(spec, LOAD_S)] if why]
        result["plots_present"] = sorted(c for c in spec.plots if _has_plot(s.page, c))
        result["plots_absent"] = sorted(c for c in spec.plots if c not in result["plots_present"])
    result["alone"] = measure_kinds([s], spec, args.interactions)
    s.close()
    log("alone " + ", ".join(f"{k}: {percentiles(v.get('samples', []))}" for k, v in result["alone"].items()))

    # 4. n sessions opened at once → all rendered
    result["phase"] = f"{args.sessions} sessions at once"
    sessions, renders = _open_all(browser, probes, url, spec, args.sessions, LOAD_S)
    starts = [r["origin"] for r in renders]
    ends = [r["origin"] + r["ms"] for r in renders]
    result["sessions"] = {"n": args.sessions, "ms": max(ends) - min(starts), "each_ms": [r["ms"] for r in renders]}
    log(f"{args.sessions} sessions rendered in {result['sessions']['ms']:.0f} ms")

    # 3. widget → redraw with the n sessions open while one training runs (in a session of its own)
    if not args.skip_load:
        measure_under_load(browser, probes, base, spec, sessions, shown, args, result)
        log("load " + ", ".join(f"{k}: {percentiles(v.get('samples', []))}" for k, v in result["load"].items()))
    for s in sessions:
        s.close()
    result.pop("phase")
    return result


def measure_under_load(browser, probes: str, base: str, spec: PageSpec, sessions: list, shown: bool, args,
                       result: dict) -> None:
    """Phase 3 into ``result["load"]``: the interactions round-robin over the open ``sessions`` while
    a tiny training with many epochs runs in a session of its own (cancelled after)."""
    result["phase"] = "widget → redraw under load: start the training"
    trainer = Session(browser, probes)
    train_page = spec.train or "jetclr"
    trainer.open(f"{base}?page={train_page}&{urlencode(TRAIN_QUERY[train_page])}")
    trainer.wait_rendered(SPECS[train_page], FIRST_LOAD_S)
    trainer.page.locator(".jetviz-train button").first.click()
    trainer.page.locator(".jetviz-cancel button").first.wait_for(timeout=60_000)
    progress = trainer.page.get_by_text(re.compile(r"epoch \d+/\d+")).first
    with contextlib.suppress(Exception):
        progress.wait_for(timeout=120_000)
    result["phase"] = "widget → redraw under load: open the run in every session"
    if shown:
        result["open_run_problems_load"] = [why for why in (s.open_run(spec, LOAD_S) for s in sessions) if why]
    result["phase"] = "widget → redraw under load"
    result["load"] = measure_kinds(sessions, spec, args.interactions)
    running = trainer.page.get_by_text(re.compile(r"epoch \d+/\d+")).count() > 0
    result["load_training"] = {"page": train_page, "still_running_at_end": running}
    with contextlib.suppress(Exception):
        trainer.page.locator(".jetviz-cancel button").first.click(timeout=10_000)
        trainer.page.get_by_text("Cancelled").first.wait_for(timeout=60_000)
    trainer.close()


# ----------------------------------------------------------------------------- report
def _fmt(ms: float | None) -> str:
    return "—" if ms is None else (f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms")


def table(results: list[dict]) -> str:
    """The results as a Markdown table (one row per page and measure) plus notes."""
    rows = ["| page | measure | n | p50 | p95 | target | |", "|---|---|---|---|---|---|---|"]
    notes = []
    for r in results:
        page = r["page"]
        if "first_render" not in r:
            rows.append(f"| {page} | error in {r.get('phase', '?')} | | | | | {r.get('error', '')[:100]} |")
            continue
        st = percentiles(r["first_render"]["samples"])
        rows.append(f"| {page} | first render | {st['n']} | {_fmt(st['p50'])} | {_fmt(st['p95'])} | "
                    f"< {_fmt(TARGETS['first'])} | {verdict(st['p95'], TARGETS['first'])} |")
        n_sessions = r.get("sessions", {}).get("n", "n")
        for phase, target, label in (("alone", TARGETS["alone"], "1 session"),
                                     ("load", TARGETS["load"], f"{n_sessions} sessions + training")):
            for kind, v in r.get(phase, {}).items():
                if "absent" in v:
                    rows.append(f"| {page} | {kind}, {label} | 0 | | | | none: {v['absent']} |")
                    continue
                st = percentiles(v["samples"])
                miss = f" ({v['misses']} without redraw in {REDRAW_TIMEOUT_MS // 1000} s)" if v["misses"] else ""
                mark = "MISS" if v["misses"] else verdict(st["p95"], target)
                rows.append(f"| {page} | {kind}, {label} | {st['n']} | {_fmt(st['p50'])} | {_fmt(st['p95'])} | "
                            f"p95 < {_fmt(target)} | {mark}{miss} |")
        if "error" in r:
            rows.append(f"| {page} | error in {r.get('phase', '?')} | | | | | {r['error'][:100]} |")
        if "sessions" not in r:
            continue
        ms = r["sessions"]["ms"]
        rows.append(f"| {page} | {r['sessions']['n']} sessions at once → all rendered | 1 | {_fmt(ms)} | | "
                    f"< {_fmt(TARGETS['sessions'])} | {verdict(ms, TARGETS['sessions'])} |")
        inter = {v["interaction"] for ph in ("alone", "load") for v in r.get(ph, {}).values() if "interaction" in v}
        shown = "reference run shown" if r["reference"] else (
            "a tiny run trained and opened (--train-first)" if r.get("run_opened") else "no run shown")
        problems = r.get("open_run_problems", []) + r.get("open_run_problems_load", [])
        if problems:
            shown += f" ({len(problems)} session(s) did not draw every plot of the run: {problems[0]})"
        notes.append(f"- {page}: {shown}; plots present "
                     f"{', '.join(r['plots_present']) or 'none'}; absent {', '.join(r['plots_absent']) or 'none'}; "
                     f"widgets {'; '.join(sorted(inter)) or 'none'}"
                     + (f"; load training on the {r['load_training']['page']} page (still running at the end: "
                        f"{r['load_training']['still_running_at_end']})" if "load_training" in r else ""))
    return "\n".join(rows + [""] + notes)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``); ``--quick`` sets pages, interactions, sessions and repeats."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=None, help="pages to measure (default: all)")
    parser.add_argument("--interactions", type=int, default=None, help="interactions per widget kind (default 30)")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent sessions (default 10)")
    parser.add_argument("--repeats", type=int, default=None, help="first renders per page (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 page (events unless --pages), 5 interactions, 3 sessions, 2 repeats")
    parser.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    parser.add_argument("--cache", type=Path, default=None, help="JETVIZ_CACHE of the server (default: a temp dir)")
    parser.add_argument("--toy-sample", action="store_true",
                        help="the events page loads toy_ee_6jet (JETVIZ_DEFAULT_SAMPLE) instead of its default")
    parser.add_argument("--train-first", action="store_true",
                        help="pages without a reference run: train a tiny run (2 epochs) and open it in every "
                             "measured session, so the result plots and their widgets are measured too")
    parser.add_argument("--skip-load", action="store_true",
                        help="leave out phase 3 (widget → redraw with the sessions open while a training runs): "
                             "on 2 cores it takes an hour per page")
    parser.add_argument("--json", type=Path, default=None, help="write every sample and result here")
    args = parser.parse_args(argv)
    quick = args.quick
    args.pages = args.pages or (["events"] if quick else list(PAGES))
    if quick:
        args.pages = args.pages[:1]
    for name, small, full in (("interactions", 5, 30), ("sessions", 3, 10), ("repeats", 2, 5)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    for name in ("interactions", "sessions", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be ≥ 1")
    return args


def write_json(args: argparse.Namespace, env: dict, results: list[dict]) -> None:
    """Write the options, the load average now and every page's samples and results to ``args.json`` (atomically)."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    payload = {"env": env, "load_average": os.getloadavg(), "options": options, "targets_ms": TARGETS,
               "results": results}
    with atomic_write(args.json, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="jetviz-ui-latency-") as tmp:
        tmp = Path(tmp)
        cache = args.cache or tmp / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        env = {"JETVIZ_CACHE": str(cache)}
        if args.toy_sample:
            env["JETVIZ_DEFAULT_SAMPLE"] = "toy_ee_6jet"
        copied = seed_cache(cache) if args.cache is None else []
        port = args.port or free_port()
        print(f"server env: {' '.join(f'{k}={v}' for k, v in env.items())}"
              + (f"; copied {len(copied)} cached ee_6jet sample file(s)" if copied else ""), file=sys.stderr)
        results = []
        with serve(port, env, tmp / "panel-serve.log") as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            probes = PROBES.read_text()
            for name in args.pages:
                results.append({"page": name})
                try:
                    bench_page(browser, probes, base, name, args, results[-1])
                except Exception as err:  # one page failing must not lose the others' (or its earlier) figures
                    print(f"[{name}] failed in {results[-1].get('phase')}: {type(err).__name__}: {err}",
                          file=sys.stderr)
                    results[-1]["error"] = f"{type(err).__name__}: {err}"
                if args.json:  # after every page: a run stopped part-way keeps the pages it measured
                    write_json(args, env, results)
            browser.close()
        load = os.getloadavg()
        print(f"\nUI latency — server env {env}, {args.interactions} interactions per kind, "
              f"{args.sessions} sessions, {args.repeats} first renders per page; {os.cpu_count()} CPUs, "
              f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
        print(table(results))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
