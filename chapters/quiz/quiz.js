/* Serverless Lab's self-test: practice by chapter with a running score, and an exam mode.
 *
 * One file, no dependencies, no network. The review page's hidden cell puts it inline after a
 * <div class="slq"> that holds the questions as JSON (<script type="application/json">, the format
 * of CONTRIBUTING.md 4), so it runs on the static site, in JupyterLite and in JupyterLab alike.
 * The score lives only in this browser's localStorage (key STORE); the reset button clears it.
 */
(function () {
  "use strict";
  var STORE = "serverless-lab-quiz-v1";
  var EXAM_SIZE = 20;
  var CSS = [
    ".slq{max-width:52em;font-size:1rem;line-height:1.5}",
    ".slq-bar{position:sticky;top:0;z-index:2;background:#fff;border:1px solid #767676;border-radius:6px;padding:.5em .75em;margin:0 0 1em}",
    ".slq-bar p{margin:.2em 0}",
    ".slq button{font:inherit;padding:.3em .8em;margin:.2em .4em .2em 0;border:1px solid #1a4f8b;border-radius:4px;background:#1a4f8b;color:#fff;cursor:pointer}",
    ".slq button.slq-secondary{background:#fff;color:#1a4f8b}",
    ".slq button:disabled{opacity:.6;cursor:default}",
    ".slq :focus-visible{outline:3px solid #c55a00;outline-offset:2px}",
    ".slq a,.slq a:visited{color:#1a4f8b;text-decoration:underline}",
    ".slq a:hover,.slq a:focus{color:#0b2e55}",
    ".slq-q{border:1px solid #c8c8c8;border-radius:6px;padding:.5em .9em;margin:0 0 1em}",
    ".slq-q legend{font-size:1rem;font-weight:600;line-height:1.5;padding:0 .3em;margin:0 0 .3em}",
    ".slq-q code{font-size:.92em}",
    ".slq-opt{display:flex;gap:.5em;align-items:flex-start;margin:.35em 0;padding:.2em .3em;border-radius:4px}",
    ".slq-opt input{margin-top:.35em;flex:none}",
    ".slq-opt.slq-right{background:#e3f4e6}",
    ".slq-opt.slq-wrong{background:#fbe4e4}",
    ".slq-why{margin:.1em 0 .4em 1.9em;font-size:.95em}",
    ".slq-verdict{font-weight:600}",
    ".slq-right .slq-verdict,.slq-ok{color:#12672a}",
    ".slq-wrong .slq-verdict,.slq-no{color:#a3161b}",
    ".slq-chapter-score{font-weight:normal;font-size:.85em;color:#444}",
    ".slq-section{font-size:.95em}",
    ".slq-hide{display:none}",
    ".slq-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("\n");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "html") { node.innerHTML = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  /** Plain text or inline Markdown (only `code`, **bold** and *italics*) to safe HTML. */
  function inline(text) {
    var html = String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return html.replace(/`([^`]+)`/g, "<code>$1</code>")
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/\*([^*]+)\*/g, "<em>$1</em>");
  }

  function shuffled(list) {
    var a = list.slice();
    for (var i = a.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1));
      var t = a[i]; a[i] = a[j]; a[j] = t;
    }
    return a;
  }

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save(results) {
    try { window.localStorage.setItem(STORE, JSON.stringify(results)); } catch (e) { /* private mode: score for this page only */ }
  }

  function mount(root) {
    root.setAttribute("data-ready", "1");
    var data = JSON.parse(root.querySelector("script.slq-data").textContent);
    var questions = data.questions;
    var chapters = data.chapters;  // [{stem, title}] in the book's order
    var sections = data.sections || {};  // "<stem>#<label>" -> the section's heading
    var byChapter = {};
    questions.forEach(function (q) { (byChapter[q.chapter] = byChapter[q.chapter] || []).push(q); });
    var results = load();          // question id -> true (first answer right) or false
    var uid = "slq" + Math.random().toString(36).slice(2, 8);
    var noscript = root.querySelector(".slq-noscript");
    if (noscript) { noscript.remove(); }

    function href(q) { return q.chapter + ".html#" + q.ref; }
    function section(q) { return title(q.chapter) + ": " + (sections[q.chapter + "#" + q.ref] || q.ref); }
    function title(stem) {
      for (var i = 0; i < chapters.length; i++) { if (chapters[i].stem === stem) { return chapters[i].title; } }
      return stem;
    }
    function correctSet(q) {
      return q.options.filter(function (o) { return o.correct; }).map(function (o) { return o.text; });
    }

    /* One question as a fieldset: radios ("one") or checkboxes and a Check button ("many").
       grade(q, right) is called once per answer; in the exam, feedback waits for reveal(). */
    function card(q, n, exam, onAnswer) {
      var many = q.kind === "many";
      var name = uid + "-" + (exam ? "e" : "p") + "-" + q.id;
      var fs = el("fieldset", {"class": "slq-q", "data-id": q.id, "data-kind": q.kind});
      var legend = el("legend", {html: "<span class=\"slq-num\">" + n + ".</span> " + inline(q.question)});
      fs.appendChild(legend);
      var opts = shuffled(q.options);
      var rows = [];
      opts.forEach(function (o, i) {
        var id = name + "-" + i;
        var input = el("input", {type: many ? "checkbox" : "radio", name: name, id: id});
        input.dataset.correct = o.correct ? "true" : "false";
        var label = el("label", {"for": id, html: inline(o.text)});
        var row = el("div", {"class": "slq-opt"}, [input, label]);
        var why = el("p", {"class": "slq-why slq-hide"});
        rows.push({o: o, input: input, row: row, why: why});
        fs.appendChild(row);
        fs.appendChild(why);
      });
      var link = el("p", {"class": "slq-section slq-hide"}, [
        document.createTextNode("Read the section: "),
        el("a", {href: href(q), text: section(q)})]);
      var status = el("p", {"class": "slq-status", role: "status", "aria-live": "polite"});
      var check = many ? el("button", {type: "button", text: "Check"}) : null;
      if (check) { fs.appendChild(check); }
      fs.appendChild(status);
      fs.appendChild(link);

      function show(final) {  // the verdict and every chosen option's why (final: the exam's grading)
        var right = true;
        rows.forEach(function (r) {
          var on = r.input.checked;
          if (on !== r.o.correct) { right = false; }
          r.row.classList.remove("slq-right", "slq-wrong");
          r.why.classList.add("slq-hide");
          if (on) {
            r.row.classList.add(r.o.correct ? "slq-right" : "slq-wrong");
            r.why.innerHTML = "<span class=\"slq-verdict\">" + (r.o.correct ? "Right. " : "Not this one. ") + "</span>" + inline(r.o.why);
            r.why.classList.remove("slq-hide");
          }
        });
        if (many && !right) {
          var missed = rows.filter(function (r) { return r.o.correct && !r.input.checked; }).length;
          status.textContent = "Not quite: " + (missed ? missed + " right answer" + (missed > 1 ? "s" : "") + " not chosen. " : "") + "The right answers: " + correctSet(q).join(" | ");
        } else {
          var blank = !rows.some(function (r) { return r.input.checked; });
          status.textContent = right ? "Right." : blank ? "Not answered." : final ? "Not this one." : "Not this one. Try another answer.";
        }
        status.className = "slq-status " + (right ? "slq-ok" : "slq-no");
        link.classList.remove("slq-hide");
        return right;
      }
      function answer() {
        if (many && !rows.some(function (r) { return r.input.checked; })) { status.textContent = "Choose the answers first."; return; }
        var right = exam ? null : show();
        if (exam) { status.textContent = "Answer recorded."; }
        onAnswer(q, right, rows);
      }
      if (many) {
        check.addEventListener("click", answer);
        if (exam) { check.textContent = "Record answer"; }
      } else {
        // A click or Space answers at once; arrow keys only move the choice, Enter or Space answers.
        var arrow = false;
        fs.addEventListener("keydown", function (ev) {
          if (/^Arrow/.test(ev.key)) { arrow = true; }
          else if ((ev.key === "Enter" || ev.key === " ") && ev.target.checked) { arrow = false; ev.preventDefault(); answer(); }
        });
        rows.forEach(function (r) {
          r.input.addEventListener("change", function () {
            if (arrow) { arrow = false; status.textContent = "Press Enter to answer."; return; }
            answer();
          });
        });
      }
      return {node: fs, reveal: show, rows: rows, q: q};
    }

    /* ---------- practice: every question, by chapter, with a running score ---------- */
    var live = el("p", {"class": "slq-sr", role: "status", "aria-live": "polite"});
    var overall = el("p", {"class": "slq-overall"});
    var reset = el("button", {type: "button", "class": "slq-secondary", text: "Reset my score"});
    var startExam = el("button", {type: "button", text: "Start an exam: " + EXAM_SIZE + " random questions"});
    var bar = el("div", {"class": "slq-bar"}, [overall, startExam, reset, live]);
    var practice = el("div", {"class": "slq-practice"});
    var examBox = el("div", {"class": "slq-exam slq-hide"});
    root.appendChild(bar);
    root.appendChild(practice);
    root.appendChild(examBox);
    var chapterScores = {};

    function score(ids) {
      var done = ids.filter(function (id) { return id in results; });
      return {right: done.filter(function (id) { return results[id]; }).length, done: done.length, all: ids.length};
    }
    function text(s) { return s.right + " right of " + s.done + " answered (" + s.all + " questions)"; }
    function refresh() {
      overall.textContent = "Your score: " + text(score(questions.map(function (q) { return q.id; })));
      Object.keys(chapterScores).forEach(function (stem) {
        chapterScores[stem].textContent = " · " + text(score(byChapter[stem].map(function (q) { return q.id; })));
      });
    }

    var n = 0;
    var cards = [];
    chapters.forEach(function (ch) {
      var qs = byChapter[ch.stem];
      if (!qs) { return; }
      var span = el("span", {"class": "slq-chapter-score"});
      chapterScores[ch.stem] = span;
      var h = el("h3", {"class": "slq-chapter", "data-chapter": ch.stem}, [
        el("a", {href: ch.stem + ".html", text: ch.title}), span]);
      practice.appendChild(h);
      qs.forEach(function (q) {
        var c = card(q, ++n, false, function (q, right) {
          if (!(q.id in results)) { results[q.id] = right; save(results); }  // the first answer counts
          refresh();
          live.textContent = (right ? "Right. " : "Not this one. ") + overall.textContent;
        });
        cards.push(c);
        practice.appendChild(c.node);
      });
    });
    reset.addEventListener("click", function () {
      results = {};
      try { window.localStorage.removeItem(STORE); } catch (e) { /* nothing stored */ }
      cards.forEach(function (c) {
        c.rows.forEach(function (r) { r.input.checked = false; r.row.classList.remove("slq-right", "slq-wrong"); r.why.classList.add("slq-hide"); });
        c.node.querySelector(".slq-status").textContent = "";
        c.node.querySelector(".slq-section").classList.add("slq-hide");
      });
      refresh();
      live.textContent = "Score reset. " + overall.textContent;
    });

    /* ---------- exam: 20 random questions, graded at the end ---------- */
    function exam() {
      examBox.innerHTML = "";
      var picked = shuffled(questions).slice(0, Math.min(EXAM_SIZE, questions.length));
      var answered = {};
      var head = el("h3", {text: "Exam: " + picked.length + " questions, graded at the end", tabindex: "-1"});
      var progress = el("p", {"class": "slq-progress", role: "status", "aria-live": "polite"});
      var finish = el("button", {type: "button", text: "Finish and grade"});
      var leave = el("button", {type: "button", "class": "slq-secondary", text: "Leave the exam"});
      var report = el("div", {"class": "slq-report", role: "status", "aria-live": "polite"});
      examBox.appendChild(head);
      examBox.appendChild(el("p", {text: "Answer each question; nothing is graded until you finish. Questions left blank count as misses. The exam does not change your practice score."}));
      var examCards = picked.map(function (q, i) {
        var c = card(q, i + 1, true, function (q) {
          answered[q.id] = true;
          progress.textContent = Object.keys(answered).length + " of " + picked.length + " answered.";
        });
        examBox.appendChild(c.node);
        return c;
      });
      examBox.appendChild(progress);
      examBox.appendChild(finish);
      examBox.appendChild(leave);
      examBox.appendChild(report);
      finish.addEventListener("click", function () {
        var misses = [];
        examCards.forEach(function (c) {
          var right = c.reveal(true);
          c.rows.forEach(function (r) { r.input.disabled = true; });
          var b = c.node.querySelector("button"); if (b) { b.disabled = true; }
          if (!right) { misses.push(c.q); }
        });
        finish.disabled = true;
        var got = picked.length - misses.length;
        report.innerHTML = "";
        report.appendChild(el("p", {"class": "slq-exam-score", text: "Exam score: " + got + " of " + picked.length + "."}));
        if (misses.length) {
          report.appendChild(el("p", {text: "Read again the sections of the questions you missed:"}));
          var ul = el("ul", {"class": "slq-misses"});
          misses.forEach(function (q) {
            ul.appendChild(el("li", {}, [el("a", {href: href(q), text: section(q)}),
              document.createTextNode(" (" + q.question.slice(0, 70).replace(/`/g, "") + "...)")]));
          });
          report.appendChild(ul);
        }
        report.focus && report.setAttribute("tabindex", "-1");
        report.focus();
      });
      leave.addEventListener("click", function () {
        examBox.classList.add("slq-hide");
        practice.classList.remove("slq-hide");
        startExam.disabled = false;
        startExam.focus();
      });
      practice.classList.add("slq-hide");
      examBox.classList.remove("slq-hide");
      startExam.disabled = true;
      head.focus();
    }
    startExam.addEventListener("click", exam);
    refresh();
  }

  if (!document.getElementById("slq-style")) {
    var style = document.createElement("style");
    style.id = "slq-style";
    style.textContent = CSS;
    document.head.appendChild(style);
  }
  var roots = document.querySelectorAll(".slq:not([data-ready])");
  for (var i = 0; i < roots.length; i++) { mount(roots[i]); }
})();
