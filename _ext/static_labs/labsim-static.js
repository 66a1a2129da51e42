/* The website's labs without a kernel (_ext/static_labs.py, labsim/labs/static.py).
 *
 * Each <div class="labsim-static"> holds its manifest (JSON, inline so that a page opened from
 * file:// works): its controls with their stops, and every precomputed state (key -> image,
 * summary, alt). A state's key is each control's stop index, joined by "-". A slider snaps to
 * its stops (arrow keys, Page Up/Down, Home and End move stop by stop); a change shows the
 * state's image at once (the images of a control's neighbouring stops are fetched and decoded
 * ahead, and all of a lab's images are fetched when it comes near the screen). A combination outside the set hides the figure and shows the note with the live ways.
 * Each shown state is timed (change event -> image decoded) in window.labsimTimings.
 */
(function () {
  "use strict";
  var decoded = {}, kept = [], fetched = {};
  var KEEP = 64;                      // decoded images kept (about 1 MB of pixels each)
  window.labsimTimings = window.labsimTimings || [];

  // Fetch an image into the browser's cache (no decoding).
  function warm(url) {
    if (!fetched[url] && !decoded[url]) { fetched[url] = 1; var im = new Image(); im.src = url; }
  }

  // Fetch and decode an image, and keep it decoded (the last KEEP of them).
  function load(url) {
    if (!decoded[url]) {
      var im = new Image();
      im.decoding = "async";
      im.src = url;
      decoded[url] = {im: im, done: (im.decode ? im.decode() : Promise.resolve()).catch(function () {})};
      kept.push(url);
      if (kept.length > KEEP) { delete decoded[kept.shift()]; }
    }
    return decoded[url].done;
  }

  function setup(root) {
    var script = root.querySelector("script.labsim-manifest");
    if (!script || root.getAttribute("data-ready")) { return; }
    var m = JSON.parse(script.textContent);
    var base = root.getAttribute("data-images");
    var img = root.querySelector("img.labsim-figure");
    var summary = root.querySelector(".labsim-summary");
    var note = root.querySelector(".labsim-offset");
    var stepBox = root.querySelector(".labsim-step");
    var cur = m["default"].split("-").map(Number);
    var seq = 0;
    var els = m.controls.map(function (c) {
      return root.querySelector('[name="' + (window.CSS && CSS.escape ? CSS.escape(c.name) : c.name) + '"]');
    });

    function keyOf(idx) { return idx.join("-"); }
    function urlOf(k) { var s = m.states[k]; return s ? base + "/" + s.img : null; }

    function reflect(i) {
      var c = m.controls[i], el = els[i], j = cur[i];
      if (c.kind === "slider") {
        el.value = String(c.stops[j]);
        el.setAttribute("aria-valuetext", c.labels[j]);
        var out = el.parentNode.querySelector("output");
        if (out) { out.textContent = c.labels[j]; }
      } else if (c.kind === "select") {
        el.selectedIndex = j;
      } else {
        el.checked = !!c.stops[j];
      }
    }

    // Neighbouring stops of every control, from the state shown (those in the set).
    function prefetchAround(only) {
      m.controls.forEach(function (c, i) {
        if (only !== undefined && only !== i) { return; }
        var lo = only === i ? 0 : Math.max(0, cur[i] - 1);
        var hi = only === i ? c.stops.length - 1 : Math.min(c.stops.length - 1, cur[i] + 1);
        for (var j = lo; j <= hi; j++) {
          var idx = cur.slice(); idx[i] = j;
          var u = urlOf(keyOf(idx));
          if (u) { load(u); }
        }
      });
    }

    function show(t0) {
      var k = keyOf(cur), s = m.states[k], my = ++seq;
      if (!s) {                                  // outside the set: no figure, the note
        root.setAttribute("data-state", "");
        img.hidden = true;
        img.removeAttribute("src");
        img.alt = "";
        summary.textContent = "";
        note.hidden = false;
        return;
      }
      var u = base + "/" + s.img;
      root.setAttribute("data-state", k);
      note.hidden = true;
      img.src = u;
      img.alt = s.alt;
      img.hidden = false;
      summary.innerHTML = s.summary;
      var done = function () {
        if (my !== seq) { return; }
        var ms = performance.now() - (t0 === undefined ? performance.now() : t0);
        window.labsimTimings.push({lab: m.lab, key: k, ms: ms});
        root.dispatchEvent(new CustomEvent("labsim:shown", {detail: {key: k, ms: ms}}));
      };
      (img.decode ? img.decode() : Promise.resolve()).then(done, done);
      load(u);
      prefetchAround();
    }

    function set(i, j, t0) {
      j = Math.max(0, Math.min(m.controls[i].stops.length - 1, j));
      cur[i] = j;
      reflect(i);
      if (stepBox) { stepBox.hidden = true; }
      show(t0);
    }

    function nearest(c, v) {
      var best = 0;
      for (var j = 1; j < c.stops.length; j++) {
        if (Math.abs(c.stops[j] - v) < Math.abs(c.stops[best] - v)) { best = j; }
      }
      return best;
    }

    var KEYS = {ArrowRight: 1, ArrowUp: 1, PageUp: 1, ArrowLeft: -1, ArrowDown: -1, PageDown: -1};
    m.controls.forEach(function (c, i) {
      var el = els[i];
      if (!el) { return; }
      el.disabled = false;
      var warm = function () { prefetchAround(i); };
      el.addEventListener("focus", warm);
      el.addEventListener("pointerenter", warm);
      if (c.kind === "slider") {
        var onMove = function (e) {
          var j = nearest(c, parseFloat(el.value));
          if (j !== cur[i]) { set(i, j, e.timeStamp); } else { reflect(i); }
        };
        el.addEventListener("input", onMove);
        el.addEventListener("change", onMove);
        el.addEventListener("keydown", function (e) {
          var j;
          if (e.key === "Home") { j = 0; }
          else if (e.key === "End") { j = c.stops.length - 1; }
          else if (KEYS[e.key]) { j = cur[i] + KEYS[e.key]; }
          else { return; }
          e.preventDefault();
          if (j !== cur[i] && j >= 0 && j < c.stops.length) { set(i, j, e.timeStamp); }
        });
      } else if (c.kind === "select") {
        el.addEventListener("change", function (e) { set(i, el.selectedIndex, e.timeStamp); });
      } else {
        el.addEventListener("change", function (e) { set(i, el.checked ? 1 : 0, e.timeStamp); });
      }
    });

    function goTo(k, t0) {
      cur = k.split("-").map(Number);
      m.controls.forEach(function (c, i) { reflect(i); });
      show(t0);
    }

    root.querySelectorAll("button.labsim-try").forEach(function (b) {
      var step = m.steps[Number(b.getAttribute("data-step"))];
      var warm = function () { var u = urlOf(step.state); if (u) { load(u); } };
      b.addEventListener("pointerenter", warm);
      b.addEventListener("focus", warm);
      b.addEventListener("click", function (e) {
        goTo(step.state, e.timeStamp);
        if (stepBox) {
          stepBox.querySelector(".labsim-ask").textContent = "Try this " + (Number(b.getAttribute("data-step")) + 1) + ": " + step.ask;
          stepBox.querySelector(".labsim-answer").textContent = step.answer;
          stepBox.querySelector("details").open = false;
          stepBox.hidden = false;
        }
      });
    });
    var reset = root.querySelector("button.labsim-reset");
    if (reset) {
      reset.addEventListener("click", function (e) {
        if (stepBox) { stepBox.hidden = true; }
        goTo(m["default"], e.timeStamp);
      });
    }
    // When the lab comes near the screen, fetch all its states (a page's labs take at most
    // about 1.5 MB), so that a change waits for decoding only, never for the network.
    var all = function () {
      Object.keys(m.states).forEach(function (k) { warm(base + "/" + m.states[k].img); });
    };
    if ("IntersectionObserver" in window) {
      var io = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) { io.disconnect(); all(); }
      }, {rootMargin: "300px"});
      io.observe(root);
    } else {
      all();
    }
    root.setAttribute("data-ready", "1");
  }

  function init() { document.querySelectorAll("div.labsim-static").forEach(setup); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
