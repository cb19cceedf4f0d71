/*! blogsearch widget: search-as-you-type for a blog, no dependencies.
 *
 *   <script src="https://search.example.com/static/blogsearch.js"
 *           data-api="https://search.example.com" defer></script>
 *   <div id="blogsearch"></div>   or   <form data-blogsearch> ... <input name="q"> </form>
 *   <div data-blogsearch-related="2024-03-01-post.md"></div>   (related posts, under a post)
 *
 * data-api defaults to the origin the script is loaded from. The API's
 * highlighted fields are escaped text in which <mark> is the only markup;
 * they are turned into DOM nodes here, never assigned as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector("script[src*='blogsearch.js']");
  var DEBOUNCE_MS = 150;
  var PER_PAGE = 5;
  var T = {
    label: "ブログ内を検索",
    placeholder: "ブログ内を検索（/ キーで移動）",
    count: "件",
    none: "に一致する記事はありません。",
    missing: "を含む記事はありません。",
    showing: "に一致する記事を表示しています。",
    partial: "すべての言葉を含む記事がないため、一部の言葉に一致する記事を表示しています。",
    respelled: "と書かれた記事はないため、別の表記の記事を表示しています: ",
    error: "検索できませんでした。時間をおいてもう一度お試しください。",
    all: "すべての結果を見る",
    tags: "タグ",
    related: "関連記事"
  };
  var counter = 0;
  var widgets = [];

  function apiBase(el) {
    var base = (el && el.getAttribute("data-api")) || (script && script.getAttribute("data-api"));
    if (!base && script && script.src) base = new URL(script.src, location.href).origin;
    return (base || "").replace(/\/+$/, "");
  }

  function make(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text != null) el.textContent = text;
    return el;
  }

  function hideVisually(el) {
    // CSSOM, not a style attribute: allowed by a strict style-src CSP.
    var s = el.style;
    s.position = "absolute"; s.width = "1px"; s.height = "1px"; s.overflow = "hidden";
    s.clip = "rect(0 0 0 0)"; s.whiteSpace = "nowrap"; s.margin = "-1px"; s.padding = "0";
  }

  var ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };

  function unescapeEntities(s) {
    return s.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, function (all, name) {
      if (name.charAt(0) === "#") {
        var code = name.charAt(1).toLowerCase() === "x"
          ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        try { return String.fromCodePoint(code); } catch (e) { return "\ufffd"; }
      }
      return Object.prototype.hasOwnProperty.call(ENTITIES, name) ? ENTITIES[name] : all;
    });
  }

  // Appends escaped text with <mark>...</mark> to parent as text nodes and
  // MARK elements. Anything else that looks like markup stays text.
  function appendMarked(parent, escaped) {
    var parts = String(escaped || "").split(/(<mark>|<\/mark>)/);
    var target = parent;
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === "<mark>") {
        if (target === parent) { target = parent.appendChild(document.createElement("mark")); }
      } else if (part === "</mark>") {
        target = parent;
      } else if (part) {
        target.appendChild(document.createTextNode(unescapeEntities(part)));
      }
    }
    return parent;
  }

  function displayDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? +m[1] + "年" + +m[2] + "月" + +m[3] + "日" : "";
  }

  // Only http(s) and relative URLs become links.
  function safeUrl(url) {
    try {
      var u = new URL(url, location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !/^(button|checkbox|radio|submit|reset|range|color|file|image)$/i.test(el.type));
  }

  function Widget(mount) {
    var id = "bs" + ++counter;
    var api = apiBase(mount);
    var form, input;
    if (mount.tagName === "FORM") {
      form = mount;
      input = form.querySelector("input[name=q]") ||
        form.querySelector("input[type=search], input[type=text], input:not([type])");
      if (!input) return;
    } else {
      form = make("form");
      form.setAttribute("role", "search");
      form.action = api + "/search";
      form.method = "get";
      input = make("input", "bs-input");
      input.type = "search";
      input.name = "q";
      input.maxLength = 500;
      input.placeholder = mount.getAttribute("data-placeholder") || T.placeholder;
      input.setAttribute("aria-label", T.label);
      form.appendChild(input);
      mount.appendChild(form);
    }
    var root = form.parentNode === mount ? mount : form;
    root.classList.add("bs-widget");
    if (!input.id) input.id = id + "-input";

    var panel = make("div", "bs-panel");
    panel.hidden = true;
    var status = make("p", "bs-status");
    status.hidden = true;
    var list = make("ul", "bs-list");
    list.id = id + "-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", T.label);
    var all = make("a", "bs-all", T.all);
    all.hidden = true;
    panel.appendChild(status);
    panel.appendChild(list);
    panel.appendChild(all);
    var live = make("div", "bs-live");
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    live.setAttribute("aria-atomic", "true");
    hideVisually(live);
    root.appendChild(panel);
    root.appendChild(live);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-keyshortcuts", "/ Control+K Meta+K");
    input.setAttribute("autocomplete", "off");
    input.setAttribute("autocapitalize", "off");
    input.setAttribute("spellcheck", "false");
    input.setAttribute("enterkeyhint", "search");

    var composing = false;
    var timer = 0;
    var seq = 0;
    var controller = null;
    var options = [];
    var active = -1;
    var shownQuery = null;
    var failed = false;

    function searchPage(q) {
      return api + "/search?q=" + encodeURIComponent(q);
    }

    function open() {
      if (!panel.hidden || shownQuery === null) return;
      panel.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      setActive(-1);
      panel.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }

    function setActive(i) {
      if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
      active = i;
      if (i >= 0 && options[i]) {
        options[i].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", options[i].id);
        if (options[i].scrollIntoView) options[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function showStatus(text) {
      status.textContent = text;
      status.hidden = !text;
    }

    function renderHit(hit, i) {
      var li = make("li", "bs-option");
      li.id = id + "-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      var href = safeUrl(hit.url);
      var title = make(href ? "a" : "span", "bs-title");
      if (href) { title.href = href; title.tabIndex = -1; }
      appendMarked(title, hit.titleHighlighted || escapeText(hit.title));
      li.appendChild(title);
      var date = displayDate(hit.date);
      if (date) {
        var meta = make("div", "bs-meta");
        var time = make("time", null, date);
        time.dateTime = hit.date;
        meta.appendChild(time);
        li.appendChild(meta);
      }
      if (hit.snippet) li.appendChild(appendMarked(make("div", "bs-snippet"), hit.snippet));
      if (hit.tags && hit.tags.length) {
        var tags = make("ul", "bs-tags");
        tags.setAttribute("aria-label", T.tags);
        for (var t = 0; t < hit.tags.length; t++) tags.appendChild(make("li", null, "#" + hit.tags[t]));
        li.appendChild(tags);
      }
      li.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep focus
      li.addEventListener("click", function (e) {
        if (e.target.closest && e.target.closest("a")) return; // the link itself
        if (href) location.assign(href);
      });
      return li;
    }

    // Which words the hits lack: the API's unmatchedWords, matchedWords and respelledWords.
    function partialNotice(data) {
      var missing = data.unmatchedWords || [];
      var found = data.matchedWords || [];
      if (missing.length) {
        var text = "「" + missing.join("」「") + "」" + T.missing;
        if (data.relaxed && found.length) text += "「" + found.join("」「") + "」" + T.showing;
        return text;
      }
      if (data.relaxed) return T.partial;
      // A name found only in the other script (パイトーチ as PyTorch).
      return (data.respelledWords || []).map(function (r) {
        return "「" + r.word + "」" + T.respelled + r.as.join("、");
      }).join(" ");
    }

    function escapeText(s) {
      return String(s || "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    }

    function render(q, data) {
      var hits = (data && data.hits) || [];
      var total = typeof data.totalHits === "number" ? data.totalHits : hits.length;
      setActive(-1);
      list.textContent = "";
      options = [];
      for (var i = 0; i < hits.length; i++) {
        var li = renderHit(hits[i], i);
        options.push(li);
        list.appendChild(li);
      }
      shownQuery = q;
      failed = false;
      showStatus(hits.length ? partialNotice(data) : "「" + q + "」" + T.none);
      all.hidden = !hits.length;
      all.href = searchPage(q);
      all.textContent = T.all + (total > hits.length ? "（" + total + T.count + "）" : "");
      live.textContent = total + T.count;
      if (document.activeElement === input) open();
    }

    function fail(q) {
      setActive(-1);
      list.textContent = "";
      options = [];
      shownQuery = q;
      failed = true;
      showStatus(T.error);
      all.hidden = true;
      live.textContent = T.error;
      if (document.activeElement === input) open();
    }

    function cancel() {
      clearTimeout(timer);
      seq++; // anything in flight is now stale
      if (controller) controller.abort();
      controller = null;
    }

    function run() {
      var q = input.value.trim();
      cancel();
      if (!q) {
        shownQuery = null;
        live.textContent = "";
        close();
        return;
      }
      if (q === shownQuery && !failed) { open(); return; }
      var mine = seq;
      controller = typeof AbortController === "function" ? new AbortController() : null;
      var url = api + "/api/search?q=" + encodeURIComponent(q) + "&per_page=" + PER_PAGE;
      fetch(url, {
        credentials: "omit",
        mode: "cors",
        signal: controller ? controller.signal : undefined
      }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      }).then(function (data) {
        if (mine === seq) render(q, data);
      }, function () {
        if (mine === seq) fail(q);
      });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(run, DEBOUNCE_MS);
    }

    function go() {
      var q = input.value.trim();
      if (active >= 0 && options[active]) {
        var link = options[active].querySelector("a[href]");
        if (link) { location.assign(link.href); return; }
      }
      if (q) location.assign(searchPage(q));
    }

    input.addEventListener("compositionstart", function () {
      composing = true;
      clearTimeout(timer);
    });
    input.addEventListener("compositionend", function () {
      composing = false;
      schedule(); // the last input event came before compositionend
    });
    input.addEventListener("input", function (e) {
      if (composing || e.isComposing) return;
      schedule();
    });
    input.addEventListener("focus", function () {
      if (input.value.trim() && input.value.trim() === shownQuery) open();
    });
    input.addEventListener("keydown", function (e) {
      if (composing || e.isComposing) return; // the IME owns this key
      if (e.keyCode === 229) { // Safari: the Enter that ends a conversion
        if (e.key === "Enter") e.preventDefault();
        return;
      }
      var n = options.length;
      switch (e.key) {
        case "ArrowDown":
        case "Down":
          e.preventDefault();
          if (panel.hidden) { open(); if (panel.hidden) run(); return; }
          if (n) setActive(active + 1 >= n ? 0 : active + 1);
          break;
        case "ArrowUp":
        case "Up":
          e.preventDefault();
          if (panel.hidden) { open(); return; }
          if (n) setActive(active <= 0 ? n - 1 : active - 1);
          break;
        case "Enter":
          e.preventDefault();
          clearTimeout(timer);
          go();
          break;
        case "Escape":
        case "Esc":
          if (!panel.hidden) {
            e.preventDefault(); // don't also clear the search field
            close();
          }
          break;
        case "Tab":
          close();
          break;
      }
    });
    form.addEventListener("submit", function (e) {
      // Enter is handled above; this covers "search" buttons and mobile keyboards.
      e.preventDefault();
      if (!composing) go();
    });
    document.addEventListener("mousedown", function (e) {
      if (!root.contains(e.target)) close();
    });
    root.addEventListener("focusout", function (e) {
      if (e.relatedTarget && !root.contains(e.relatedTarget)) close();
    });

    widgets.push(input);
  }

  // Related posts under a post: the element names the post's id (its file
  // under _posts); filled from /api/posts/<id>/related, left empty on error.
  function Related(el) {
    var id = el.getAttribute("data-blogsearch-related");
    if (!id) return;
    var url = apiBase(el) + "/api/posts/" + encodeURIComponent(id).replace(/%2F/g, "/") + "/related";
    fetch(url, { headers: { Accept: "application/json" } }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json();
    }).then(function (data) {
      var hits = data.hits || [];
      if (!hits.length) return;
      var box = make("nav", "bs-related");
      box.setAttribute("aria-label", T.related);
      box.appendChild(make("h2", "bs-related-title", T.related));
      var list = make("ul", "bs-related-list");
      for (var i = 0; i < hits.length; i++) {
        var li = make("li", "bs-related-item");
        var href = safeUrl(hits[i].url);
        var a = make(href ? "a" : "span", "bs-related-link", hits[i].title);
        if (href) a.href = href;
        li.appendChild(a);
        var date = displayDate(hits[i].date);
        if (date) li.appendChild(make("span", "bs-related-date", date));
        list.appendChild(li);
      }
      box.appendChild(list);
      el.appendChild(box);
    }, function () { /* no list rather than a broken one */ });
  }

  // The widget's stylesheet sits next to the script; data-css="none" skips it
  // (for a site that styles .bs-* itself).
  function loadStyles() {
    if (!script || !script.src || script.getAttribute("data-css") === "none") return;
    if (document.querySelector("link[data-blogsearch-css]")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("blogsearch.css", script.src).href;
    link.setAttribute("data-blogsearch-css", "");
    document.head.appendChild(link);
  }

  function init() {
    loadStyles();
    var mounts = document.querySelectorAll("#blogsearch, form[data-blogsearch]");
    for (var i = 0; i < mounts.length; i++) {
      if (!mounts[i].getAttribute("data-blogsearch-ready")) {
        mounts[i].setAttribute("data-blogsearch-ready", "1");
        Widget(mounts[i]);
      }
    }
    var related = document.querySelectorAll("[data-blogsearch-related]");
    for (var j = 0; j < related.length; j++) {
      if (!related[j].getAttribute("data-blogsearch-ready")) {
        related[j].setAttribute("data-blogsearch-ready", "1");
        Related(related[j]);
      }
    }
    if (!widgets.length) return;
    document.addEventListener("keydown", function (e) {
      if (e.defaultPrevented || e.isComposing) return;
      var slash = e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey;
      var ctrlK = (e.key === "k" || e.key === "K") && (e.ctrlKey || e.metaKey) && !e.altKey;
      if ((slash && !isTyping(e.target)) || ctrlK) {
        e.preventDefault();
        widgets[0].focus();
        widgets[0].select();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
