// In-page probes of benchmarks/ui_latency.py, installed with Playwright's add_init_script
// (runs in every page before Panel's scripts). Everything reads BokehJS 3 state:
//   window.Bokeh.documents   -> Document[], Document.is_idle (all roots rendered once)
//   window.Bokeh.index       -> the root views; .query(fn) walks every view below them
//   plot views               -> views with canvas_view + renderer_views (PlotView and subclasses);
//                               has_finished() (every renderer drawn), _needs_paint (a paint pending),
//                               canvas_view.primary.canvas (the layer the glyphs are drawn on)
// A plot "belongs" to a jetviz-* css class when an ancestor element (across shadow roots) has it.
(() => {
  const J = (window.__jv = {ready_key: null, ready_at: null, t_input: null, t_mark: null, armed: null});

  function plotViews() {
    const B = window.Bokeh;
    if (!B || !B.index || typeof B.index.query !== "function") return [];
    try {
      return [...B.index.query((v) => v.canvas_view !== undefined && v.renderer_views !== undefined)];
    } catch (err) {
      return [];
    }
  }

  function classesOf(view) {
    const found = new Set();
    let node = view.el;
    while (node) {
      if (node.classList) for (const c of node.classList) if (c.startsWith("jetviz-")) found.add(c);
      node = node.parentNode || node.host;
    }
    return found;
  }

  function docsIdle() {
    const B = window.Bokeh;
    return !!(B && B.documents && B.documents.length > 0 && B.documents.every((d) => d.is_idle));
  }

  function drawn(view) {
    try {
      return view.has_finished() && !view._needs_paint && view.el.isConnected;
    } catch (err) {
      return false;
    }
  }

  function patch(view) {  // remember when each plot view last painted (after the paint)
    const proto = Object.getPrototypeOf(view);
    if (!proto || Object.prototype.hasOwnProperty.call(proto, "__jv_patched")) return;
    const original = proto._actual_paint;
    if (typeof original !== "function") return;
    proto._actual_paint = function (...args) {
      const out = original.apply(this, args);
      this.__jv_painted = performance.now();
      return out;
    };
    proto.__jv_patched = true;
  }

  // page state: {idle, plots: {class: count}}; ready when docs idle and every plot view drawn
  J.state = () => {
    const views = plotViews();
    views.forEach(patch);
    const plots = {};
    for (const v of views) for (const c of classesOf(v)) plots[c] = (plots[c] || 0) + 1;
    const idle = docsIdle() && views.every(drawn);
    return {idle, n: views.length, plots};
  };

  // first render: the first time (since navigation start) the page became idle with this set of plots
  const watch = () => {
    const s = J.state();
    const key = s.idle ? JSON.stringify([s.n, Object.keys(s.plots).sort()]) : null;
    if (key !== J.ready_key) {
      J.ready_key = key;
      J.ready_at = key === null ? null : performance.now();
    }
  };
  J.start_monitor = () => { if (J.monitor === null) J.monitor = setInterval(watch, 25); };
  J.monitor = null;
  J.start_monitor();
  J.stop_monitor = () => { clearInterval(J.monitor); J.monitor = null; };  // rendered: stop polling the page

  function hash(canvas, h) {
    const w = canvas.width, hh = canvas.height;
    if (!w || !hh) return h;
    const data = new Uint32Array(canvas.getContext("2d").getImageData(0, 0, w, hh).data.buffer);
    h = Math.imul(h ^ w, 16777619) ^ hh;
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 16777619);
    return h >>> 0;
  }

  function target(cls) {
    return plotViews().filter((v) => classesOf(v).has(cls));
  }

  function signature(views) {
    let h = 2166136261;
    for (const v of views) {
      try {
        h = hash(v.canvas_view.primary.canvas, h);
      } catch (err) { /* a view being removed */ }
    }
    return `${views.length}:${h}`;
  }

  // record the time stamp of the input event that starts a measurement (capture, on window)
  for (const type of ["keydown", "input", "pointerup"]) {
    window.addEventListener(type, (e) => {
      if (J.armed && J.armed.event === type && J.t_input === null) J.t_input = e.timeStamp;
    }, true);
  }

  J.arm = (cls, event) => {
    const views = target(cls);
    views.forEach(patch);
    J.armed = {cls, event, before: signature(views), views: new Set(views)};
    J.t_input = null;
    J.t_mark = performance.now();  // fallback start when no input event reached the window
    return views.length;
  };

  // resolves {ms, painted} once the target plots' canvases differ from before the input and every
  // plot view is drawn (Bokeh idle); {ms: null} after timeout_ms
  J.wait = (timeout_ms) => new Promise((resolve) => {
    const a = J.armed;
    const start = performance.now();
    let checked = -1;  // the canvases are hashed only after a target plot painted or was replaced
    let seen = a.views;
    const poll = () => {
      const views = target(a.cls);
      const now = performance.now();
      const replaced = views.length !== seen.size || views.some((v) => !seen.has(v));
      const painted = Math.max(0, ...views.map((v) => v.__jv_painted || 0));
      let ready = false;
      try {
        ready = (replaced || painted > checked) && views.length > 0 && docsIdle() && plotViews().every(drawn);
      } catch (err) { /* views torn down mid-check: look again at the next poll */ }
      if (ready) {
        checked = painted;
        seen = new Set(views);
        if (signature(views) !== a.before) {
          const t0 = J.t_input !== null ? J.t_input : J.t_mark;
          const end = painted > t0 ? painted : now;
          J.armed = null;
          resolve({ms: end - t0, from_event: J.t_input !== null, painted: painted > t0});
          return;
        }
      }
      if (now - start > timeout_ms) {
        J.armed = null;
        resolve({ms: null});
        return;
      }
      setTimeout(poll, 8);
    };
    poll();
  });

  // viewport coordinates of the plot of class cls: its frame and glyph k's point (tap targets)
  J.geometry = (cls, k) => {
    const views = target(cls);
    if (!views.length) return null;
    const v = views[0];
    const rect = v.canvas_view.el.getBoundingClientRect();
    const f = v.frame.bbox;
    const out = {frame: {x0: rect.left + f.left, y0: rect.top + f.top, x1: rect.left + f.right, y1: rect.top + f.bottom}};
    for (const [, r] of v.renderer_views) {
      const g = r.glyph;
      if (!g || !g.sx || !g.sx.length) continue;
      const n = g.sx.length;
      const idx = [];
      for (let i = 0; i < n; i++) {
        const x = g.sx[i], y = g.sy[i];
        if (Number.isFinite(x) && Number.isFinite(y) && x > f.left + 3 && x < f.right - 3 && y > f.top + 3 &&
            y < f.bottom - 3) idx.push(i);
      }
      if (!idx.length) continue;
      const i = idx[(k * 7919) % idx.length];
      out.point = {x: rect.left + g.sx[i], y: rect.top + g.sy[i], n: idx.length};
      break;
    }
    return out;
  };

  // make the box-select tool of the plot of class cls the active drag tool
  J.activate_box = (cls) => {
    const views = target(cls);
    if (!views.length) return false;
    const toolbar = views[0].model.toolbar;
    const tools = toolbar ? toolbar.tools : [];
    const box = tools.find((t) => (t.type || t.constructor.__name__) === "BoxSelectTool");
    if (!box) return false;
    box.active = true;
    return true;
  };
})();
